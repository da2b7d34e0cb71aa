using Keybrake.Domain.Caps;
using Keybrake.Domain.Common;
using Keybrake.Domain.Labels;
using Keybrake.Domain.Operators;
using Keybrake.Domain.Policy;
using Keybrake.Domain.Vendors;

namespace Keybrake.Domain.Keys;

public sealed record IssueKeyCommand(
    string Label,
    string Vendor,
    decimal? DailyUsdCap,
    IReadOnlyList<string> AllowedEndpoints,
    string ExpiresIn,
    IReadOnlyDictionary<string, string>? Metadata,
    int? LoopMaxCalls = null,
    int? LoopWindowSeconds = null,
    string? VendorAccount = null);

public sealed record IssuedKey(VaultKey Key, string Secret);

/// <summary>Issues, lists and revokes vault keys on behalf of an operator.</summary>
public sealed class KeyService(IVaultKeyStore store, KeyLimits limits, VendorRegistry vendors, CapPolicyService capPolicy, TimeProvider time)
{
    public const int MaxPageSize = 1000;

    public async Task<IssuedKey> IssueAsync(OperatorPrincipal caller, IssueKeyCommand command, CancellationToken cancellationToken)
    {
        Label label = Label.Parse(command.Label);
        caller.EnsureTenant(label.Tenant);

        EnsureVendor(command.Vendor);

        (long capMicros, string capSource) = command.DailyUsdCap is decimal requested
            ? (ValidateCap(requested), "request")
            : await capPolicy.CapForAsync(label, cancellationToken);
        IReadOnlyList<string> endpoints = ValidateEndpoints(command.AllowedEndpoints);
        TimeSpan ttl = Ttl.Parse(command.ExpiresIn);
        IReadOnlyDictionary<string, string> metadata = ValidateMetadata(command.Metadata);

        DateTimeOffset now = time.GetUtcNow();
        (string id, string secret) = VaultKeySecret.Create(label.Tenant);
        var key = new VaultKey
        {
            Id = id,
            Tenant = label.Tenant,
            Label = label.Value,
            Vendor = command.Vendor,
            DailyCapMicros = capMicros,
            AllowedEndpoints = endpoints,
            CreatedAt = now,
            ExpiresAt = now + ttl,
            SecretHash = VaultKeySecret.Hash(secret),
            Metadata = metadata,
            CapSource = capSource,
            Loop = ValidateLoop(command.LoopMaxCalls, command.LoopWindowSeconds),
            VendorAccount = ValidateVendorAccount(command.Vendor, command.VendorAccount),
            IssuedBy = caller.TokenId,
        };
        await store.CreateAsync(key, cancellationToken);
        return new IssuedKey(key, secret);
    }

    public async Task<VaultKey> GetAsync(OperatorPrincipal caller, string id, CancellationToken cancellationToken)
    {
        VaultKey? key = VaultKeySecret.TrySplitId(id, out string tenant, out _) && caller.CanSeeTenant(tenant)
            ? await store.GetAsync(id, cancellationToken)
            : null;

        // Another tenant's key is reported as missing, so a tenant token cannot probe for key ids.
        return key is not null && caller.CanSeeLabel(key.Label) ? key : throw KeybrakeException.NotFound($"Key '{id}'");
    }

    public Task<KeyPage> ListAsync(
        OperatorPrincipal caller, string? labelPrefix, string? vendor, string? status, int? limit, string? cursor,
        CancellationToken cancellationToken) =>
        store.ListAsync(BuildQuery(caller, labelPrefix, vendor, status, limit, cursor), cancellationToken);

    public async Task<(VaultKey Before, VaultKey After)> RevokeAsync(OperatorPrincipal caller, string id, CancellationToken cancellationToken)
    {
        VaultKey key = await GetAsync(caller, id, cancellationToken);
        await store.RevokeAsync(key.Id, time.GetUtcNow(), caller.TokenId, cancellationToken);
        return (key, (await store.GetAsync(key.Id, cancellationToken))!);
    }

    public Task<int> RevokeByPrefixAsync(OperatorPrincipal caller, string? labelPrefix, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(labelPrefix))
        {
            // Revoking everything by accident is too easy with an empty prefix; make the caller name a tenant.
            throw KeybrakeException.Invalid("label_prefix", "is required (e.g. \"acme:\" or \"acme:billing-agent:refunds:run-42\").");
        }

        KeyQuery query = BuildQuery(caller, labelPrefix, vendor: null, status: null, limit: null, cursor: null);
        return store.RevokeMatchingAsync(query, time.GetUtcNow(), caller.TokenId, cancellationToken);
    }

    private KeyQuery BuildQuery(OperatorPrincipal caller, string? labelPrefix, string? vendor, string? status, int? limit, string? cursor)
    {
        Label.ValidatePrefix(labelPrefix);
        string prefix = caller.ScopePrefix(labelPrefix);
        if (vendor is not null)
        {
            EnsureVendor(vendor);
        }

        VaultKeyStatus? parsedStatus = status switch
        {
            null or "" => null,
            "active" => VaultKeyStatus.Active,
            "revoked" => VaultKeyStatus.Revoked,
            "expired" => VaultKeyStatus.Expired,
            _ => throw KeybrakeException.Invalid("status", "must be one of active, revoked, expired."),
        };
        if (limit is < 1 or > MaxPageSize)
        {
            throw KeybrakeException.Invalid("limit", $"must be between 1 and {MaxPageSize}.");
        }

        string? tenant = caller.Tenant ?? Label.TenantOfPrefix(prefix);
        string tenantPrefix = tenant ?? prefix;
        return new KeyQuery(tenant, tenantPrefix, prefix, vendor, parsedStatus, time.GetUtcNow(), limit ?? 100, cursor);
    }

    private static LoopLimit? ValidateLoop(int? maxCalls, int? windowSeconds)
    {
        if (maxCalls is null && windowSeconds is null)
        {
            return null;
        }

        if (maxCalls is not (>= 1 and <= 10_000))
        {
            throw KeybrakeException.Invalid("loop_max_calls", "must be 1-10000 (set it together with loop_window_seconds).");
        }

        return windowSeconds is >= 1 and <= LoopLimit.MaxWindowSeconds
            ? new LoopLimit(maxCalls.Value, windowSeconds.Value)
            : throw KeybrakeException.Invalid("loop_window_seconds", $"must be 1-{LoopLimit.MaxWindowSeconds} (set it together with loop_max_calls).");
    }

    private void EnsureVendor(string vendor)
    {
        if (vendors.Find(vendor) is null)
        {
            throw KeybrakeException.Invalid("vendor", $"'{vendor}' is not supported; use one of {string.Join(", ", vendors.Names.Order(StringComparer.Ordinal))}.");
        }
    }

    private long ValidateCap(decimal cap)
    {
        if (cap <= 0)
        {
            throw KeybrakeException.Invalid("daily_usd_cap", "must be greater than 0.");
        }

        if (cap > limits.MaxDailyUsdCap)
        {
            throw KeybrakeException.Invalid("daily_usd_cap", $"must be at most {limits.MaxDailyUsdCap} (the configured maximum).");
        }

        return Usd.TryToMicros(cap, out long micros)
            ? micros
            : throw KeybrakeException.Invalid("daily_usd_cap", "has more than 6 decimal places.");
    }

    private List<string> ValidateEndpoints(IReadOnlyList<string> endpoints)
    {
        if (endpoints.Count > limits.MaxAllowedEndpoints)
        {
            throw KeybrakeException.Invalid("allowed_endpoints", $"at most {limits.MaxAllowedEndpoints} patterns.");
        }

        return endpoints.Select(e => EndpointPattern.Parse(e).Text).ToList();
    }

    /// <summary>
    /// Only vendors with an account header can bind a key to another account, and only with an id the
    /// header can carry verbatim (Stripe: <c>acct_</c> and letters or digits).
    /// </summary>
    private string? ValidateVendorAccount(string vendor, string? account)
    {
        if (account is null)
        {
            return null;
        }

        if (vendors.Find(vendor)?.AccountHeader is null)
        {
            throw KeybrakeException.Invalid("vendor_account", $"is not supported for {vendor}.");
        }

        bool valid = account.Length is > 5 and <= 255 && account.StartsWith("acct_", StringComparison.Ordinal)
            && account.Skip(5).All(char.IsAsciiLetterOrDigit);
        return valid ? account : throw KeybrakeException.Invalid("vendor_account", "must be a connected account id (acct_ followed by letters or digits).");
    }

    private Dictionary<string, string> ValidateMetadata(IReadOnlyDictionary<string, string>? metadata)
    {
        if (metadata is null)
        {
            return [];
        }

        if (metadata.Count > limits.MaxMetadataEntries)
        {
            throw KeybrakeException.Invalid("metadata", $"at most {limits.MaxMetadataEntries} entries.");
        }

        foreach ((string name, string value) in metadata)
        {
            if (name.Length is 0 or > 40 || value.Length > 500 || name.Any(char.IsControl) || value.Any(char.IsControl))
            {
                throw KeybrakeException.Invalid("metadata", "keys must be 1-40 characters and values at most 500, without control characters.");
            }
        }

        return new Dictionary<string, string>(metadata, StringComparer.Ordinal);
    }
}
