using Keybrake.Domain.Caps;

namespace Keybrake.Domain.Audit;

/// <summary>
/// The cap-reservation engine: intents with their reservations, outcomes with their settlements, and the moves of
/// rows and counters between states, each exactly once under any concurrency across instances. Reading audit rows
/// for reports and queries is <see cref="IAuditReader"/>'s.
/// </summary>
public interface IReservationLedger
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
