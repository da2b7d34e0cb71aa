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

public interface IAuditLog
{
    /// <summary>
    /// Writes the intent row and reserves <see cref="Reservation.AmountMicros"/> on every counter, atomically
    /// per partition; refuses (writing nothing) when a counter would pass its limit or the loop breaker trips.
    /// When this throws, the call must not be forwarded.
    /// </summary>
    Task<BeginResult> BeginAsync(AuditEntry intent, Reservation reservation, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the intent with the outcome while the row is still in doubt (a late answer after an operator or the
    /// reconciler resolved it moves nothing), and moves the counters the row recorded to <paramref name="heldMicros"/>
    /// (the gross cost that stays counted). Conditional on the row's ETag, like <see cref="TransitionAsync"/>.
    /// </summary>
    Task CompleteAsync(AuditEntry outcome, Reservation reservation, long heldMicros, bool releaseIdempotencyKey, CancellationToken cancellationToken);

    /// <summary>
    /// Moves one row from the state its caller saw to <paramref name="decide"/>'s outcome, exactly once: the row is
    /// read with its ETag, <paramref name="decide"/> sees that fresh row and returns null when it is no longer in the
    /// state the caller acts on (already resolved or settled); otherwise the row is replaced at that ETag in the same
    /// entity-group transaction as the counters it recorded (<see cref="AuditEntry.Counters"/>) that share its
    /// partition, which move from what they hold for the row (<see cref="AuditEntry.HeldMicros"/>) to the returned
    /// held amount. Counters in other partitions follow once the row is written. A lost race re-reads the row and asks
    /// <paramref name="decide"/> again. Returns the row written, or null when nothing was written.
    /// </summary>
    Task<AuditEntry?> TransitionAsync(string tenant, string id, Func<AuditEntry, (AuditEntry Outcome, long HeldMicros)?> decide, CancellationToken cancellationToken);

    /// <summary>
    /// Whether <paramref name="row"/> is an idempotent replay: marked one, or a retry whose first call (same key and
    /// Idempotency-Key) was made on the UTC day before, within the vendor's window, so the vendor replayed it.
    /// </summary>
    Task<bool> ReplaysEarlierCallAsync(AuditEntry row, CancellationToken cancellationToken);

    /// <summary>
    /// Finishes what an instance left half-done on counters outside a row's partition (monthly and cross-tenant budgets):
    /// a settlement or release whose row moved is applied to them, a reservation whose intent was never written is given
    /// back; each exactly once. Only journal entries written before <paramref name="writtenBefore"/> are touched.
    /// Returns how many were finished.
    /// </summary>
    Task<int> FinishJournalsAsync(string tenant, DateTimeOffset day, DateTimeOffset writtenBefore, CancellationToken cancellationToken);

    /// <summary>A call refused before anything was reserved or forwarded.</summary>
    Task RecordDenialAsync(AuditEntry denial, CancellationToken cancellationToken);

    /// <summary>Rows of one tenant-day the reconciler may have to act on: estimated costs and in-doubt calls.</summary>
    Task<IReadOnlyList<AuditEntry>> UnsettledAsync(string tenant, DateTimeOffset day, CancellationToken cancellationToken);

    /// <summary>One audit row, or null.</summary>
    Task<AuditEntry?> GetAsync(string tenant, string id, CancellationToken cancellationToken);

    /// <summary>Every spend counter stored in one partition (a tenant's or the cross-tenant day), with what it holds.</summary>
    Task<IReadOnlyList<(CounterRef Counter, long Used)>> CountersAsync(string partition, CancellationToken cancellationToken);

    /// <summary>What a counter holds now (reserved and settled spend).</summary>
    Task<long> UsedAsync(CapCounter counter, CancellationToken cancellationToken);
}
