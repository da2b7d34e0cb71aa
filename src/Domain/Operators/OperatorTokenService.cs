using Keybrake.Domain.Common;
using Keybrake.Domain.Keys;

namespace Keybrake.Domain.Operators;

public sealed record IssuedOperatorToken(OperatorToken Token, string Secret);

/// <summary>Issues tenant-scoped operator tokens; only root may.</summary>
public sealed class OperatorTokenService(IOperatorTokenStore store, TimeProvider time)
{
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
        DateTimeOffset? expiresAt = expiresIn is null ? null : now + Ttl.Parse(expiresIn);
        (string id, string secret) = OperatorTokenSecret.Create();
        var token = new OperatorToken
        {
            Id = id,
            Tenant = tenant!,
            TokenHash = RandomTokens.Sha256Hex(secret),
            CreatedAt = now,
            ExpiresAt = expiresAt,
            Description = description,
        };
        await store.CreateAsync(token, cancellationToken);
        return new IssuedOperatorToken(token, secret);
    }
}
