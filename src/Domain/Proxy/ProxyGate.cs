using Keybrake.Domain.Common;
using Keybrake.Domain.Keys;
using Keybrake.Domain.Policy;
using Keybrake.Domain.Vendors;

namespace Keybrake.Domain.Proxy;

/// <summary>A call that passed the key, vendor and allowlist checks.</summary>
public sealed record AuthorizedCall(VaultKey Key, VendorDefinition Vendor, string Method, IReadOnlyList<string> Segments, string Operation);

/// <summary>
/// docs/design.md §3 steps 1-3, in order: a valid key (<see cref="ErrorKind.Unauthorized"/>), the route's vendor is the
/// key's (<see cref="ErrorKind.Forbidden"/>), the method and normalised path are on the key's allowlist (forbidden,
/// naming the operation; an empty list allows nothing).
/// </summary>
public sealed class ProxyGate(VaultKeyCache keys, TimeProvider time)
{
    // Parsed once per cached key record (the cache hands out the same instance until it reloads), not per call.
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<VaultKey, EndpointPattern[]> _patterns = [];

    public async Task<AuthorizedCall> AuthorizeAsync(
        VendorDefinition vendor, string method, string rawPath, string? authorization, CancellationToken cancellationToken)
    {
        string? presented = vendor.ReadVaultKey(authorization);
        string? id = VaultKeySecret.IdOf(presented);
        if (id is null)
        {
            throw new KeybrakeException(ErrorKind.Unauthorized, "invalid_vault_key", "Send a Keybrake vault key where the vendor SDK puts its API key.");
        }

        VaultKey? key = await keys.GetAsync(id, cancellationToken);
        if (key is null || !VaultKeySecret.Verify(key, presented!))
        {
            throw new KeybrakeException(ErrorKind.Unauthorized, "invalid_vault_key", "The vault key is not valid.") { Key = key };
        }

        VaultKeyStatus status = key.StatusAt(time.GetUtcNow());
        if (status != VaultKeyStatus.Active)
        {
            throw new KeybrakeException(ErrorKind.Unauthorized, "vault_key_" + status.ToString().ToLowerInvariant(), $"The vault key is {status.ToString().ToLowerInvariant()}.") { Key = key };
        }

        if (!string.Equals(key.Vendor, vendor.Name, StringComparison.Ordinal))
        {
            throw new KeybrakeException(ErrorKind.Forbidden, "vendor_mismatch", $"This vault key is for {key.Vendor}, not {vendor.Name}.") { Key = key };
        }

        IReadOnlyList<string> segments;
        try
        {
            segments = PathNormalizer.Normalize(rawPath);
        }
        catch (KeybrakeException e)
        {
            throw new KeybrakeException(ErrorKind.Validation, e.Code, e.Message) { Key = key };
        }

        string operation = vendor.Operation(method, segments);
        IReadOnlyList<string> matchable = vendor.MatchSegments(segments);
        EndpointPattern[] patterns = _patterns.GetValue(key, k => [.. k.AllowedEndpoints.Select(p => EndpointPattern.Parse(p))]);
        // The path without Twilio's format suffix, or as sent: a pattern written with the suffix, as Twilio's docs print
        // URLs (.../Messages.json), must not deny every call because the suffix is ignored on the path's side only.
        bool allowed = patterns.Any(pattern => pattern.Matches(method, matchable) || pattern.Matches(method, segments));
        if (!allowed)
        {
            throw new KeybrakeException(ErrorKind.Forbidden, "endpoint_not_allowed",
                $"This vault key does not allow {operation} ({method} {PathNormalizer.Encode(matchable)}).") { Key = key, Operation = operation };
        }

        return new AuthorizedCall(key, vendor, method, segments, operation);
    }
}
