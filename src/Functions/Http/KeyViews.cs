using System.Text.Json.Serialization;
using Keybrake.Domain.Common;
using Keybrake.Domain.Keys;

namespace Keybrake.Functions.Http;

/// <summary>A vault key as the operator API shows it; <see cref="Key"/> is set only in the issue response.</summary>
public sealed record KeyView(
    string Id,
    string Label,
    string Vendor,
    decimal DailyUsdCap,
    IReadOnlyList<string> AllowedEndpoints,
    DateTime ExpiresAt,
    DateTime CreatedAt,
    DateTime? RevokedAt,
    string Status,
    string CapSource,
    IReadOnlyDictionary<string, string> Metadata,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Key = null)
{
    /// <summary>Today's (UTC) spend against the key's cap, reserved and settled; shown on a single key.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public decimal? SpentTodayUsd { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public decimal? RemainingUsd { get; init; }

    /// <summary>The key's own loop breaker, when it was set at issue time.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public object? LoopBreaker { get; init; }

    /// <summary>The vendor account (Stripe connected account) the key is bound to, when it was issued with one.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? VendorAccount { get; init; }

    /// <summary>The operator (<c>root</c> or a token id) that issued the key; null for keys from before this was recorded.</summary>
    public string? IssuedBy { get; init; }

    public string? RevokedBy { get; init; }

    public static KeyView From(VaultKey key, DateTimeOffset now, string? secret = null) => new(
        key.Id,
        key.Label,
        key.Vendor,
        Usd.FromMicros(key.DailyCapMicros),
        key.AllowedEndpoints,
        key.ExpiresAt.UtcDateTime,
        key.CreatedAt.UtcDateTime,
        key.RevokedAt?.UtcDateTime,
        key.StatusAt(now).ToString().ToLowerInvariant(),
        key.CapSource,
        key.Metadata,
        secret)
    {
        LoopBreaker = key.Loop is null ? null : new { max_calls = key.Loop.MaxCalls, window_seconds = key.Loop.WindowSeconds },
        VendorAccount = key.VendorAccount,
        IssuedBy = key.IssuedBy,
        RevokedBy = key.RevokedBy,
    };
}
