namespace Keybrake.Domain.Keys;

public enum VaultKeyStatus
{
    Active,
    Revoked,
    Expired,
}

/// <summary>A vault key as stored: everything but the secret, of which only a hash is kept.</summary>
public sealed record VaultKey
{
    public required string Id { get; init; }

    public required string Tenant { get; init; }

    public required string Label { get; init; }

    public required string Vendor { get; init; }

    public required long DailyCapMicros { get; init; }

    public required IReadOnlyList<string> AllowedEndpoints { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public required DateTimeOffset ExpiresAt { get; init; }

    public DateTimeOffset? RevokedAt { get; init; }

    public required string SecretHash { get; init; }

    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    /// <summary>Which rule produced the cap: <c>request</c> when the operator set it.</summary>
    public string CapSource { get; init; } = "request";

    /// <summary>This key's loop breaker, when it differs from the configured default.</summary>
    public LoopLimit? Loop { get; init; }

    /// <summary>
    /// The vendor account (a Stripe connected account, <c>acct_...</c>) this key acts on, set at issue. The
    /// proxy then sends the vendor's account header itself; a key without one may not send that header.
    /// </summary>
    public string? VendorAccount { get; init; }

    /// <summary>The operator (<c>root</c> or a token id) that issued it; null on keys issued before this was kept.</summary>
    public string? IssuedBy { get; init; }

    public string? RevokedBy { get; init; }

    public VaultKeyStatus StatusAt(DateTimeOffset now) =>
        RevokedAt is not null ? VaultKeyStatus.Revoked
        : now >= ExpiresAt ? VaultKeyStatus.Expired
        : VaultKeyStatus.Active;
}

/// <summary>At most <see cref="MaxCalls"/> identical non-read calls within <see cref="WindowSeconds"/>.</summary>
public sealed record LoopLimit(int MaxCalls, int WindowSeconds)
{
    public const int MaxWindowSeconds = 86_400;
}
