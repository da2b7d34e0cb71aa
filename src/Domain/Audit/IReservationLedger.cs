using Keybrake.Domain.Caps;

namespace Keybrake.Domain.Audit;

/// <summary>
/// The cap-reservation engine: intents with their reservations, outcomes with their settlements, and the moves of
/// rows and counters between states, each exactly once under any concurrency across instances. Reading audit rows
/// for reports and queries is <see cref="IAuditReader"/>'s.
/// </summary>
/// <summary>A tenant-day's rows not final yet, and how many journal entries reading them finished.</summary>
public sealed record UnsettledDay(IReadOnlyList<AuditEntry> Rows, int JournalsFinished);

/// <summary>A tenant-day's audit rows and its partition's counters, read together.</summary>
public sealed record LedgerDay(IReadOnlyList<AuditEntry> Rows, IReadOnlyList<(CounterRef Counter, long Used)> Counters);

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

    /// <summary>A call refused before anything was reserved or forwarded.</summary>
    Task RecordDenialAsync(AuditEntry denial, CancellationToken cancellationToken);

    /// <summary>
    /// What one tenant-day leaves to the reconciler. First finishes what an instance left half-done on counters outside a
    /// row's partition (monthly and cross-tenant budgets): a settlement or release whose row moved is applied to them, a
    /// reservation whose intent was never written is given back; each exactly once, and only for journal entries written
    /// before <paramref name="journalsWrittenBefore"/>. Then returns the day's rows that are not final
    /// (<see cref="AuditEntry.Unsettled"/>), in row id order, as of the read. Settled rows are never read: the ledger
    /// keeps an index of the unsettled ones, written with the intent and removed by the move that makes a row final.
    /// </summary>
    Task<UnsettledDay> UnsettledAsync(string tenant, DateTimeOffset day, DateTimeOffset journalsWrittenBefore, CancellationToken cancellationToken);

    /// <summary>One audit row, or null.</summary>
    Task<AuditEntry?> GetAsync(string tenant, string id, CancellationToken cancellationToken);

    /// <summary>
    /// A tenant-day's audit rows (in id order) and the spend counters of its partition with what they hold, in one read:
    /// what the consistency check compares. Index entries, markers, loop windows and journal entries are not rows.
    /// </summary>
    Task<LedgerDay> DayAsync(string tenant, DateTimeOffset day, CancellationToken cancellationToken);

    /// <summary>Every spend counter stored in one partition (a tenant's or the cross-tenant day), with what it holds.</summary>
    Task<IReadOnlyList<(CounterRef Counter, long Used)>> CountersAsync(string partition, CancellationToken cancellationToken);

    /// <summary>What a counter holds now (reserved and settled spend).</summary>
    Task<long> UsedAsync(CapCounter counter, CancellationToken cancellationToken);
}
