using System.Text.Json;
using System.Text.Json.Nodes;
using Keybrake.Domain.Common;
using Keybrake.Domain.Proxy;
using Keybrake.Domain.Secrets;
using Keybrake.Domain.Vendors;
using Keybrake.Infrastructure.Storage;
using Microsoft.Extensions.Logging;

namespace Keybrake.Functions.Proxy;

/// <summary>
/// docs/design.md §3 step 5 and §9 "Shared vendor accounts": when a tenant has no vendor account of its own, every
/// object a call names must be the tenant's, lists are filtered to its objects (or refused), creates are
/// tagged and recorded, and the vendor's account header is the key's bound account or nothing.
/// </summary>
public sealed partial class ObjectOwnershipGuard(
    IObjectOwnershipStore store,
    ObjectOwnershipCache cache,
    VendorLookup lookup,
    ISecretProvider secrets,
    ILogger<ObjectOwnershipGuard> logger)
{
    /// <summary>
    /// How much of a vendor answer is read to filter or record it on a shared account. A Stripe list page
    /// holds at most 100 objects, each with at most 50 metadata entries of 500 characters: a few MB even
    /// expanded. A larger answer is withheld (lists) or left unrecorded (creates), never passed unfiltered.
    /// </summary>
    public const int MaxFilteredResponseBytes = (8 * 1024 * 1024) - 1;

    /// <summary>
    /// The ownership step for an agent's request: an account switch the vendor offers (a header naming another account)
    /// is refused outright, a bound connected account must be the key's, then the objects the call names are checked.
    /// </summary>
    public Task<OwnershipCheck> CheckAsync(
        Microsoft.AspNetCore.Http.HttpRequest request, AuthorizedCall authorized, ProxyCall call,
        IReadOnlyDictionary<string, string> secretValues, CancellationToken cancellationToken)
    {
        VendorDefinition vendor = authorized.Vendor;
        foreach (string accountSwitch in vendor.RefusedAccountHeaders)
        {
            if (request.Headers.ContainsKey(accountSwitch))
            {
                throw Deny(authorized, ErrorKind.Forbidden, "vendor_account_not_allowed",
                    $"{accountSwitch} is not accepted through Keybrake; issue a key with vendor_account to act on a connected account.");
            }
        }

        string? account = vendor.AccountHeader is string header && request.Headers.TryGetValue(header, out var value) ? value.ToString() : null;
        return CheckAsync(authorized, call, request.QueryString.Value, account, secretValues, cancellationToken);
    }

    public async Task<OwnershipCheck> CheckAsync(
        AuthorizedCall authorized, ProxyCall call, string? query, string? accountHeader,
        IReadOnlyDictionary<string, string> secretValues, CancellationToken cancellationToken)
    {
        VendorDefinition vendor = authorized.Vendor;
        string tenant = authorized.Key.Tenant;
        string? bound = vendor.AccountHeader is null ? null : authorized.Key.VendorAccount;
        if (!string.IsNullOrEmpty(accountHeader) && !string.Equals(accountHeader, bound, StringComparison.Ordinal))
        {
            throw Deny(authorized, ErrorKind.Forbidden, "vendor_account_not_allowed",
                $"This vault key may not act on another {vendor.Name} account ({vendor.AccountHeader}); issue a key with vendor_account for it.");
        }

        if (bound is not null)
        {
            // A connected account is a vendor account of its own: the vendor isolates it.
            return new OwnershipCheck(this, vendor, tenant, call, ObjectScope.None, Shared: false, bound);
        }

        if (!await IsSharedAsync(vendor, tenant, secretValues, cancellationToken))
        {
            return new OwnershipCheck(this, vendor, tenant, call, ObjectScope.None, Shared: false, null);
        }

        ObjectScope scope = vendor.Objects(call, query);
        if (scope.Refusal is not null)
        {
            throw Deny(authorized, ErrorKind.Forbidden, "foreign_object", scope.Refusal);
        }

        if (scope.List == ListScope.Refuse)
        {
            throw Deny(authorized, ErrorKind.Forbidden, "foreign_object",
                $"{call.Operation} lists objects of every tenant on this shared {vendor.Name} account and cannot be filtered; fetch your objects by id.");
        }

        foreach (NamedObject named in scope.Named)
        {
            string? owner = ObjectScope.IsPlainId(named.Id) ? await OwnerAsync(authorized, named, followed: false, cancellationToken) : null;
            if (!string.Equals(owner, tenant, StringComparison.Ordinal))
            {
                // The same answer whether the object is another tenant's or nobody's: no probing for ids.
                throw Deny(authorized, ErrorKind.Forbidden, "foreign_object", $"This call names {vendor.Name} object '{Shorten(named.Id)}', which does not belong to this tenant.");
            }
        }

        return new OwnershipCheck(this, vendor, tenant, scope.Creates ? vendor.TagOwner(call, tenant) : call, scope, Shared: true, null);
    }

    /// <summary>
    /// Shared when any of the tenant's secrets is the shared one (Twilio: the same Account SID with another
    /// token is still the same account). An unreadable shared secret counts as shared: fail closed.
    /// </summary>
    private async Task<bool> IsSharedAsync(VendorDefinition vendor, string tenant, IReadOnlyDictionary<string, string> secretValues, CancellationToken cancellationToken)
    {
        foreach (string name in vendor.SecretNames)
        {
            string? shared;
            try
            {
                shared = await secrets.GetAsync(name, null, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                LogSharedSecretUnreadable(logger, vendor.Name, e.GetType().Name);
                return true;
            }

            if (shared is not null && secretValues.TryGetValue(name, out string? own) && string.Equals(shared, own, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Cache, else the table (vendors that keep no owner), else the vendor's own tag (one look-up), else nobody.</summary>
    private async Task<string?> OwnerAsync(AuthorizedCall authorized, NamedObject named, bool followed, CancellationToken cancellationToken)
    {
        VendorDefinition vendor = authorized.Vendor;
        if (cache.Get(vendor.Name, named.Id) is string cached)
        {
            return cached;
        }

        if (!vendor.TagsOwnerAtVendor)
        {
            // Storage failures propagate: the pipeline answers 503 and forwards nothing.
            string? recorded = await store.OwnerAsync(vendor.Name, named.Id, cancellationToken);
            if (recorded is not null)
            {
                cache.Set(vendor.Name, named.Id, recorded);
            }

            return recorded;
        }

        if (named.LookupPath is null)
        {
            return null;
        }

        JsonDocument? found;
        try
        {
            found = await lookup.FindAsync(vendor, authorized.Key.Tenant, named.LookupPath, cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or TimeoutException or JsonException
                                      or KeybrakeException
                                      || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            LogLookupFailed(logger, vendor.Name, e.GetType().Name);
            throw Deny(authorized, ErrorKind.Unavailable, "ownership_unavailable",
                $"Keybrake could not establish who owns {vendor.Name} object '{Shorten(named.Id)}', so this call was not forwarded. Retry later.");
        }

        using (found)
        {
            if (found is null)
            {
                return null;
            }

            OwnerHint hint = vendor.OwnerOf(found.RootElement);
            string? owner = hint.Tenant;
            if (owner is null && hint.Follow is { } follow && !followed && ObjectScope.IsPlainId(follow.Id))
            {
                owner = await OwnerAsync(authorized, follow, followed: true, cancellationToken);
            }

            if (owner is not null)
            {
                cache.Set(vendor.Name, named.Id, owner);
            }

            return owner;
        }
    }

    /// <summary>After a 2xx: record what a create made, and cut a list down to the tenant's objects.</summary>
    internal async Task<ResponseRewrite> OnSuccessAsync(OwnershipCheck check, ReadOnlyMemory<byte> body, bool whole)
    {
        VendorDefinition vendor = check.Vendor;
        if (check.Scope.Creates)
        {
            if (!whole)
            {
                LogCreateUnrecorded(logger, vendor.Name, "answer too large");
                return ResponseRewrite.Keep;
            }

            IReadOnlyList<string> ids;
            try
            {
                using JsonDocument created = JsonDocument.Parse(body);
                ids = [.. vendor.CreatedObjects(check.Call, created.RootElement).Where(ObjectScope.IsPlainId)];
            }
            catch (JsonException)
            {
                LogCreateUnrecorded(logger, vendor.Name, "answer not JSON");
                return ResponseRewrite.Keep;
            }

            foreach (string id in ids)
            {
                cache.Set(vendor.Name, id, check.Tenant);
            }

            if (!vendor.TagsOwnerAtVendor && ids.Count > 0)
            {
                try
                {
                    // The vendor's answer has arrived; record the owner even if the agent has gone away.
                    await store.RecordAsync(vendor.Name, ids, check.Tenant, CancellationToken.None);
                }
                catch (Exception e) when (StorageFailures.IsStorageFailure(e, CancellationToken.None))
                {
                    // Fail closed: other instances will not see an owner and refuse calls naming it.
                    LogCreateUnrecorded(logger, vendor.Name, StorageFailures.Describe(e));
                }
            }

            return ResponseRewrite.Keep;
        }

        if (check.Scope.List == ListScope.Filter)
        {
            return whole ? Filter(check, body) : ResponseRewrite.Refuse;
        }

        return ResponseRewrite.Keep;
    }

    /// <summary>
    /// Keeps the items whose owner is known without storage: the vendor's tag on the item, or this instance's
    /// cache (directly or through the item's parent). Everything else stays out. <c>has_more</c> and the
    /// rest of the answer are untouched, so the agent pages on from its last visible item.
    /// </summary>
    private ResponseRewrite Filter(OwnershipCheck check, ReadOnlyMemory<byte> body)
    {
        VendorDefinition vendor = check.Vendor;
        JsonObject? root;
        try
        {
            root = JsonNode.Parse(body.Span) as JsonObject;
        }
        catch (JsonException)
        {
            return ResponseRewrite.Refuse;
        }

        if (vendor.ListItemsProperty is not string property || root?[property] is not JsonArray items)
        {
            return ResponseRewrite.Refuse;
        }

        for (int i = items.Count - 1; i >= 0; i--)
        {
            if (!IsTenants(vendor, check.Tenant, items[i]))
            {
                items.RemoveAt(i);
            }
        }

        return new ResponseRewrite(System.Text.Encoding.UTF8.GetBytes(root.ToJsonString()), Refused: false);
    }

    private bool IsTenants(VendorDefinition vendor, string tenant, JsonNode? item)
    {
        if (item is not JsonObject)
        {
            return false;
        }

        using JsonDocument document = JsonDocument.Parse(item.ToJsonString());
        JsonElement element = document.RootElement;
        OwnerHint hint = vendor.OwnerOf(element);
        string? owner = hint.Tenant
            ?? (OwnershipJson.Text(element, "id") is string id ? cache.Get(vendor.Name, id) : null)
            ?? (hint.Follow is { } follow ? cache.Get(vendor.Name, follow.Id) : null);
        return string.Equals(owner, tenant, StringComparison.Ordinal);
    }

    private static KeybrakeException Deny(AuthorizedCall authorized, ErrorKind kind, string code, string message) =>
        new(kind, code, message) { Key = authorized.Key, Operation = authorized.Operation };

    private static string Shorten(string id) => id.Length <= 64 ? id : id[..64] + "…";

    [LoggerMessage(EventId = 2101, Level = LogLevel.Warning, Message = "Shared {Vendor} secret unreadable ({ErrorType}); treating the tenant as on the shared account")]
    private static partial void LogSharedSecretUnreadable(ILogger logger, string vendor, string errorType);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Warning, Message = "Owner look-up at {Vendor} failed ({ErrorType}); call refused")]
    private static partial void LogLookupFailed(ILogger logger, string vendor, string errorType);

    [LoggerMessage(EventId = 2103, Level = LogLevel.Error, Message = "Owner of an object created at {Vendor} not recorded ({Why}); calls naming it will be refused")]
    private static partial void LogCreateUnrecorded(ILogger logger, string vendor, string why);
}

/// <summary>What the ownership step decided for one call, and what it must do once the vendor answers.</summary>
public sealed class OwnershipCheck(ObjectOwnershipGuard guard, VendorDefinition vendor, string tenant, ProxyCall call, ObjectScope scope, bool Shared, string? boundAccount)
{
    public VendorDefinition Vendor { get; } = vendor;

    public string Tenant { get; } = tenant;

    /// <summary>The call to forward: a create on a shared account carries its owner tag.</summary>
    public ProxyCall Call { get; } = call;

    public ObjectScope Scope { get; } = scope;

    public bool IsShared { get; } = Shared;

    /// <summary>Whether the vendor's answer must be read whole (to record a create or filter a list).</summary>
    public bool NeedsResponseBody => IsShared && (Scope.Creates || Scope.List == ListScope.Filter);

    /// <summary>How much of a 2xx answer the pipeline must read whole: more for a list to filter, 0 when nothing is needed.</summary>
    public int ResponseReadLimit => IsShared && Scope.List == ListScope.Filter ? ObjectOwnershipGuard.MaxFilteredResponseBytes : 0;

    /// <summary>The vendor's account header is the proxy's to set: the client's copy never goes upstream.</summary>
    public void ApplyHeaders(HttpRequestMessage upstream)
    {
        if (Vendor.AccountHeader is not string header)
        {
            return;
        }

        upstream.Headers.Remove(header);
        if (boundAccount is not null)
        {
            upstream.Headers.TryAddWithoutValidation(header, boundAccount);
        }
    }

    public Task<ResponseRewrite> OnSuccessAsync(ReadOnlyMemory<byte> body, bool whole) =>
        IsShared ? guard.OnSuccessAsync(this, body, whole) : Task.FromResult(ResponseRewrite.Keep);
}

/// <summary>A replacement answer (a filtered list), or a refusal of an answer that could not be filtered.</summary>
public sealed record ResponseRewrite(byte[]? Body, bool Refused)
{
    public static ResponseRewrite Keep { get; } = new(null, false);

    public static ResponseRewrite Refuse { get; } = new(null, true);
}
