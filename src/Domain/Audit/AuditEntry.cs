using Keybrake.Domain.Caps;
using Keybrake.Domain.Common;

namespace Keybrake.Domain.Audit;

public static class AuditOutcome
{
    public const string Forwarded = "forwarded";
    public const string Denied = "denied";
    public const string Error = "error";
    public const string InDoubt = "in_doubt";
}

/// <summary>
/// One proxied (or refused) call. Never holds a secret or a request body. Written as an intent
/// (<see cref="AuditOutcome.InDoubt"/>) before forwarding and completed afterwards.
/// </summary>
public sealed record AuditEntry
{
    public required string Id { get; init; }

    public required DateTimeOffset Timestamp { get; init; }

    public required string Tenant { get; init; }

    public required string Label { get; init; }

    public required string KeyId { get; init; }

    public required string Vendor { get; init; }

    public required string Method { get; init; }

    public required string Path { get; init; }

    public string? Operation { get; init; }

    public int? Status { get; init; }

    public required string Outcome { get; init; }

    public string? Reason { get; init; }

    public long CostMicros { get; init; }

    public string? CostSource { get; init; }

    public long? FeeMicros { get; init; }

    /// <summary>How much the real cost passed the reservation (the bound was too low); null when it did not.</summary>
    public long? OvershootMicros { get; init; }

    public string? Currency { get; init; }

    public long? AmountMinor { get; init; }

    public string? VendorObjectId { get; init; }

    public string? VendorRequestId { get; init; }

    public string? IdempotencyKey { get; init; }

    public long? LatencyMs { get; init; }

    public long? UpstreamMs { get; init; }

    /// <summary>
    /// An idempotent replay: a retry the vendor answers from its first call (same key, same Idempotency-Key, within
    /// the vendor's window). It reserves nothing and is never settled as a charge: the first call carries the money.
    /// </summary>
    public bool Replay { get; init; }

    /// <summary>
    /// The counters this row's reservation moves (its key's daily cap and the budgets that covered its label when it
    /// was reserved), recorded once when the intent is written: settlement and release move exactly these.
    /// </summary>
    public IReadOnlyList<CounterRef> Counters { get; init; } = [];

    /// <summary>What each of <see cref="Counters"/> holds for this row now: the reservation, then the settled gross cost.</summary>
    public long HeldMicros { get; init; }

    /// <summary>
    /// Not final yet, so the reconciler may have to act on it: in doubt (reserved, no outcome, or an outcome nobody could
    /// tell), or forwarded at an estimated cost (a price the vendor sets later, as Twilio's).
    /// </summary>
    public bool Unsettled => Outcome == AuditOutcome.InDoubt || (Outcome == AuditOutcome.Forwarded && CostSource == Proxy.CostSource.Estimated);

    /// <summary>The audit partition: one per tenant and UTC day.</summary>
    public string PartitionKey => PartitionFor(Tenant, Timestamp);

    public static string PartitionFor(string tenant, DateTimeOffset at) => DayPartitions.Of(tenant, at);

    /// <summary>When the row with this id was written (its RowKey starts with inverted ticks), or null if it is not an audit id.</summary>
    public static DateTimeOffset? TimeOfId(string id) =>
        id.Length > 19 && long.TryParse(id.AsSpan(0, 19), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long inverted) &&
        inverted is >= 0 and <= 3_155_378_975_999_999_999
            ? new DateTimeOffset(DateTime.MaxValue.Ticks - inverted, TimeSpan.Zero)
            : null;

    /// <summary>A row key that sorts newest first: inverted ticks, then randomness against collisions.</summary>
    public static string NewId(DateTimeOffset at) =>
        (DateTime.MaxValue.Ticks - at.UtcTicks).ToString("D19", System.Globalization.CultureInfo.InvariantCulture) + RandomTokens.Base32(6);
}
