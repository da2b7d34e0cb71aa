using Keybrake.Domain.Common;
using Keybrake.Domain.Labels;

namespace Keybrake.Domain.Operators;

/// <summary>A tenant-scoped operator token as stored (hash only).</summary>
public sealed record OperatorToken
{
    public required string Id { get; init; }

    public required string Tenant { get; init; }

    public required string TokenHash { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? ExpiresAt { get; init; }

    public string? Description { get; init; }

    public DateTimeOffset? RevokedAt { get; init; }

    /// <summary>The operator (token id, or <c>root</c>) that issued it.</summary>
    public string? IssuedBy { get; init; }

    public string? RevokedBy { get; init; }

    public bool IsValidAt(DateTimeOffset now) => RevokedAt is null && (ExpiresAt is null || ExpiresAt > now);
}

public interface IOperatorTokenStore
{
    Task CreateAsync(OperatorToken token, CancellationToken cancellationToken);

    Task<OperatorToken?> GetAsync(string id, CancellationToken cancellationToken);

    /// <summary>Every tenant token (hashes included; callers must not show them).</summary>
    Task<IReadOnlyList<OperatorToken>> ListAsync(CancellationToken cancellationToken);

    /// <summary>Marks the token revoked; false when there is no such token.</summary>
    Task<bool> RevokeAsync(string id, DateTimeOffset at, string revokedBy, CancellationToken cancellationToken);
}

/// <summary>Operator token strings: <c>kbo_{id}_{secret}</c>, 260 random bits of secret.</summary>
public static class OperatorTokenSecret
{
    public const string Prefix = "kbo_";
    private static readonly int IdChars = RandomTokens.CharsForBits(100);
    private static readonly int SecretChars = RandomTokens.CharsForBits(256);

    public static (string Id, string Token) Create()
    {
        string id = "tok_" + RandomTokens.Base32(IdChars);
        return (id, Prefix + id[4..] + "_" + RandomTokens.Base32(SecretChars));
    }

    public static string? IdOf(string token)
    {
        if (!token.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return null;
        }

        string[] parts = token[Prefix.Length..].Split('_');
        return parts.Length == 2 && parts[0].Length == IdChars && parts[1].Length == SecretChars &&
               RandomTokens.IsBase32(parts[0]) && RandomTokens.IsBase32(parts[1])
            ? "tok_" + parts[0]
            : null;
    }

    /// <summary>Whether <paramref name="id"/> has the shape of a token id (checked before it reaches a table query).</summary>
    public static bool IsWellFormedId(string? id) =>
        id is not null && id.StartsWith("tok_", StringComparison.Ordinal) && id.Length == 4 + IdChars && RandomTokens.IsBase32(id.AsSpan(4));

    public static void ValidateTenant(string? tenant)
    {
        if (!Label.IsValidTenant(tenant))
        {
            throw KeybrakeException.Invalid("tenant", "must be lowercase letters, digits and '-', 1 to 63 characters, not starting with '-'.");
        }
    }
}
