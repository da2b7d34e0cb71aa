using Keybrake.Domain.Activity;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Caps;

namespace Keybrake.Infrastructure.Storage;

/// <summary>
/// The audit log as the app uses it: before a call's first row lands in a tenant-day, that tenant-day is noted in
/// the activity index (once per instance; warm calls add no request). First, not after: an index entry without
/// rows only costs a report one empty read, while rows without an entry would be missed by every root report.
/// A failed index write fails the call like a failed audit write (503, not forwarded).
/// </summary>
public sealed class ActivityRecordingAuditLog(IReservationLedger inner, IActivityIndex activity) : IReservationLedger
{
    public async Task<BeginResult> BeginAsync(AuditEntry intent, Reservation reservation, CancellationToken cancellationToken)
    {
        await RecordAsync(intent, cancellationToken);
        return await inner.BeginAsync(intent, reservation, cancellationToken);
    }

    public async Task RecordDenialAsync(AuditEntry denial, CancellationToken cancellationToken)
    {
        await RecordAsync(denial, cancellationToken);
        await inner.RecordDenialAsync(denial, cancellationToken);
    }

    public Task CompleteAsync(AuditEntry outcome, Reservation reservation, long heldMicros, bool releaseIdempotencyKey, CancellationToken cancellationToken) =>
        inner.CompleteAsync(outcome, reservation, heldMicros, releaseIdempotencyKey, cancellationToken);

    public Task<AuditEntry?> TransitionAsync(
        string tenant, string id, Func<AuditEntry, (AuditEntry Outcome, long HeldMicros)?> decide, CancellationToken cancellationToken) =>
        inner.TransitionAsync(tenant, id, decide, cancellationToken);

    public Task<bool> ReplaysEarlierCallAsync(AuditEntry row, CancellationToken cancellationToken) => inner.ReplaysEarlierCallAsync(row, cancellationToken);

    public Task<LedgerDay> DayAsync(string tenant, DateTimeOffset day, CancellationToken cancellationToken) => inner.DayAsync(tenant, day, cancellationToken);

    public Task<IReadOnlyList<(CounterRef Counter, long Used)>> CountersAsync(string partition, CancellationToken cancellationToken) =>
        inner.CountersAsync(partition, cancellationToken);

    public Task<UnsettledDay> UnsettledAsync(string tenant, DateTimeOffset day, DateTimeOffset journalsWrittenBefore, CancellationToken cancellationToken) =>
        inner.UnsettledAsync(tenant, day, journalsWrittenBefore, cancellationToken);

    public Task<AuditEntry?> GetAsync(string tenant, string id, CancellationToken cancellationToken) => inner.GetAsync(tenant, id, cancellationToken);

    public Task<long> UsedAsync(CapCounter counter, CancellationToken cancellationToken) => inner.UsedAsync(counter, cancellationToken);

    private Task RecordAsync(AuditEntry row, CancellationToken cancellationToken) =>
        activity.RecordAsync(row.Tenant, DateOnly.FromDateTime(row.Timestamp.UtcDateTime), cancellationToken);
}
