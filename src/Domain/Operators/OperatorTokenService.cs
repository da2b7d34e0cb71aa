using Keybrake.Domain.Common;
using Keybrake.Domain.Keys;

namespace Keybrake.Domain.Operators;

public sealed record IssuedOperatorToken(OperatorToken Token, string Secret);

/// <summary>Issues, lists and revokes tenant-scoped operator tokens; only root may.</summary>
public sealed class OperatorTokenService(IOperatorTokenStore store, TimeProvider time)
{
    /// <summary>A token nobody gave a lifetime still ends: a forgotten one must not work forever.</summary>
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromDays(90);

    public static readonly TimeSpan MaxLifetime = TimeSpan.FromDays(365);

    public async Task<IssuedOperatorToken> IssueAsync(
        OperatorPrincipal caller, string? tenant, string? description, string? expiresIn, CancellationToken cancellationToken)
    {
        caller.EnsureRoot();
        OperatorTokenSecret.ValidateTenant(tenant);
        if (description is { Length: > 200 } || (description?.Any(char.IsControl) ?? false))
        {
            throw KeybrakeException.Invalid("description", "must be at most 200 characters without control characters.");
        }

        DateTimeOffset now = time.GetUtcNow();
        DateTimeOffset expiresAt = now + (expiresIn is null ? DefaultLifetime : Ttl.Parse(expiresIn, MaxLifetime));
        (string id, string secret) = OperatorTokenSecret.Create();
        var token = new OperatorToken
        {
            Id = id,
            Tenant = tenant!,
            TokenHash = RandomTokens.Sha256Hex(secret),
            CreatedAt = now,
            ExpiresAt = expiresAt,
            Description = description,
            IssuedBy = caller.TokenId,
        };
        await store.CreateAsync(token, cancellationToken);
        return new IssuedOperatorToken(token, secret);
    }

    public async Task<IReadOnlyList<OperatorToken>> ListAsync(OperatorPrincipal caller, CancellationToken cancellationToken)
    {
        caller.EnsureRoot();
        return (await store.ListAsync(cancellationToken)).OrderBy(t => t.CreatedAt).ThenBy(t => t.Id, StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// Revokes now. The authenticator reads the token row on every request (no cache), so every instance
    /// refuses it from its next request on: well inside the 2 s the design promises.
    /// </summary>
    public async Task<(OperatorToken Before, OperatorToken After)> RevokeAsync(OperatorPrincipal caller, string id, CancellationToken cancellationToken)
    {
        caller.EnsureRoot();
        OperatorToken before = (OperatorTokenSecret.IsWellFormedId(id) ? await store.GetAsync(id, cancellationToken) : null)
            ?? throw KeybrakeException.NotFound($"Token '{id}'");
        if (before.RevokedAt is null && !await store.RevokeAsync(id, time.GetUtcNow(), caller.TokenId, cancellationToken))
        {
            throw KeybrakeException.NotFound($"Token '{id}'");
        }

        return (before, (await store.GetAsync(id, cancellationToken))!);
    }
}
