using Keybrake.Domain.Activity;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Common;
using Keybrake.Domain.Export;

namespace Keybrake.Domain.Work;

/// <summary>What the backfill found in one tenant-day's audit partition, and what it wrote.</summary>
public sealed record BackfillDay(bool HasRows, int UnsettledIndexed);

/// <summary>
/// What a backfill work item (or a whole run) did: tenant-days read, found active, unsettled rows indexed, pending export
/// rows given their due entries.
/// </summary>
public sealed record BackfillReport(int TenantDays, int Active, int UnsettledIndexed, int ExportsIndexed);

/// <summary>What the backfill route enqueued.</summary>
public sealed record BackfillPlan(int Tenants, int Messages, DateOnly From, DateOnly To);

/// <summary>The storage side of the backfill: the audit partitions as older versions left them.</summary>
public interface IIndexBackfillStore
{
    /// <summary>
    /// Every tenant that has a key, read from the keys themselves. A scan of the keys table, for this one-off path only:
    /// the tenant directory (and the activity index) may be younger than the data being backfilled.
    /// </summary>
    Task<IReadOnlyList<string>> TenantsWithKeysAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Reads one tenant-day's audit partition once and gives each row that is not final (<see cref="AuditEntry.Unsettled"/>)
    /// and has no unsettled index entry its entry, written conditionally on the row's ETag (a row that moves meanwhile is
    /// read again): idempotent, and never an entry for a row already final.
    /// </summary>
    Task<BackfillDay> BackfillAsync(string tenant, DateOnly day, CancellationToken cancellationToken);
}

/// <summary>
/// The upgrade path from a version without the activity index, the unsettled index or the export due index: timers and
/// root reports read only those indexes, so tenant-days written before them would silently never be reconciled, rolled
/// up, reported or exported. An operator starts it once after the upgrade (<c>POST /v1/maintenance/backfill</c>); it lists
/// the tenants from their keys, enqueues per-tenant work items on the nightly queue, and each item reads its tenants'
/// partitions of the window once, noting active tenant-days missing from the activity index (not rolled yet: the nightly
/// run rolls those of its catch-up window), indexing unsettled rows, and giving the pending export rows of each active
/// tenant-day their due entries (export rows exist only for days with audit rows). Safe to run again, and beside live traffic.
/// </summary>
public sealed class IndexBackfill(IIndexBackfillStore store, IActivityIndex activity, IExportOutbox exports, ReportOptions reports, TimeProvider time)
{
    /// <summary>The default window: the nightly run's catch-up window, so every day it would roll is found.</summary>
    public const int DefaultDays = RollupService.CatchUpDays;

    /// <summary>The longest window: a year and a day of audit partitions per tenant.</summary>
    public const int MaxDays = 366;

    /// <summary>The days a run of <paramref name="days"/> covers, today included.</summary>
    public (DateOnly From, DateOnly To) Window(int days)
    {
        if (days is < 1 or > MaxDays)
        {
            throw KeybrakeException.Invalid("days", $"must be from 1 to {MaxDays}.");
        }

        DateOnly today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        return (today.AddDays(1 - days), today);
    }

    /// <summary>Every tenant that has a key, each to be backfilled from <paramref name="from"/>.</summary>
    public async Task<IReadOnlyList<WorkTenantDay>> ItemsAsync(DateOnly from, CancellationToken cancellationToken) =>
        [.. (await store.TenantsWithKeysAsync(cancellationToken)).Select(tenant => new WorkTenantDay(tenant, from))];

    /// <summary>One work item: each tenant's days from the item's day to today, a bounded number at once.</summary>
    public async Task<BackfillReport> RunAsync(IReadOnlyList<WorkTenantDay> items, CancellationToken cancellationToken)
    {
        DateOnly today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        TenantDay[] days = [.. items.SelectMany(i => Enumerable.Range(0, Math.Max(0, today.DayNumber - i.Day.DayNumber + 1)).Select(n => new TenantDay(i.Tenant, i.Day.AddDays(n))))];
        (BackfillDay Day, int Exports)[] found = await Bounded.SelectAsync(days, reports.MaxStorageRequestsInFlight, async (tenantDay, ct) =>
        {
            BackfillDay day = await store.BackfillAsync(tenantDay.Tenant, tenantDay.Day, ct);
            if (!day.HasRows)
            {
                return (day, 0);
            }

            await activity.BackfillAsync(tenantDay.Tenant, tenantDay.Day, ct);
            return (day, await exports.IndexPendingAsync(tenantDay.Tenant, tenantDay.Day, ct));
        }, cancellationToken);
        return new BackfillReport(days.Length, found.Count(d => d.Day.HasRows), found.Sum(d => d.Day.UnsettledIndexed), found.Sum(d => d.Exports));
    }
}
