using Keybrake.Domain.Activity;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Common;
using Keybrake.Domain.Export;
using Keybrake.Domain.Reconciliation;

namespace Keybrake.Domain.Work;

/// <summary>What one work item did, for the queue function's log.</summary>
public sealed record WorkResult(
    string Kind, int Items, ReconcileReport? Reconcile = null, ConsistencyReport? Consistency = null, ExportReport? Export = null, int Purged = 0,
    BackfillReport? Backfill = null);

/// <summary>What a timer enqueued: tenant-days per kind and work items (queue messages).</summary>
public sealed record WorkPlan(int Reconcile = 0, int Roll = 0, int Export = 0, int Purge = 0, int Messages = 0);

/// <summary>
/// The fan-out of the periodic jobs. A timer's run reads only the activity index (and the dirty marks, and nothing per
/// tenant) and enqueues batches of <see cref="WorkQueueOptions.BatchSize"/> tenant-days; a queue-triggered function runs
/// each batch. Every handler is idempotent (conditional transitions, claimed rollup versions, insert-if-absent export
/// sequences, ETag-conditional deletes), so a message delivered twice, or retried after a failure, does its work once.
/// </summary>
public sealed class FanOutWork(
    Reconciler reconciler,
    ConsistencyCheck consistency,
    RollupService rollups,
    ExportService exports,
    IActivityIndex activity,
    IndexBackfill backfill,
    IWorkQueue queue,
    WorkQueueOptions options,
    ReportOptions reports,
    TimeProvider time)
{
    /// <summary>The reconciler timer: the look-back's active tenant-days in batches, and today's consistency check.</summary>
    public async Task<WorkPlan> PlanReconcileAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<WorkTenantDay> due = [.. (await reconciler.DueAsync(cancellationToken)).Select(t => new WorkTenantDay(t.Tenant, t.Day))];
        int messages = await EnqueueAsync(options.Reconcile, WorkKinds.Reconcile, due, cancellationToken);
        await queue.EnqueueAsync(options.Reconcile, new WorkBatch(WorkKinds.Consistency, [new WorkTenantDay("*", Today())]), cancellationToken);
        return new WorkPlan(Reconcile: due.Count, Messages: messages + 1);
    }

    /// <summary>
    /// The nightly timer: every tenant-day to roll (unrolled active days of the catch-up window, dirty marks), each
    /// exported once rolled; the export of the three days before today for active tenants not rolled tonight (a change
    /// re-rolled at once has its dirty mark too, this is the belt to those braces); the purge of days past the export's retention.
    /// </summary>
    public async Task<WorkPlan> PlanNightlyAsync(CancellationToken cancellationToken)
    {
        DateOnly today = Today();
        (IReadOnlyList<TenantDay> unrolled, IReadOnlyList<DirtyMark> dirty) = await rollups.NightlyDueAsync(today, cancellationToken);
        List<WorkTenantDay> roll = [.. unrolled.Select(t => new WorkTenantDay(t.Tenant, t.Day)), .. dirty.Select(m => new WorkTenantDay(m.TenantDay.Tenant, m.TenantDay.Day, m.Version))];
        var rolled = roll.Select(r => r.TenantDay).ToHashSet();
        List<WorkTenantDay> export = exports.Target == ExportOptions.None ? []
            : [.. (await activity.ActiveAsync(today.AddDays(-3), today.AddDays(-1), cancellationToken)).Where(t => !rolled.Contains(t)).Select(t => new WorkTenantDay(t.Tenant, t.Day))];
        List<WorkTenantDay> purge = [.. (await exports.PurgeDueAsync(cancellationToken)).Select(t => new WorkTenantDay(t.Tenant, t.Day))];
        int messages = await EnqueueAsync(options.Nightly, WorkKinds.Roll, roll, cancellationToken)
            + await EnqueueAsync(options.Nightly, WorkKinds.Export, export, cancellationToken)
            + await EnqueueAsync(options.Nightly, WorkKinds.Purge, purge, cancellationToken);
        return new WorkPlan(Roll: roll.Count, Export: export.Count, Purge: purge.Count, Messages: messages);
    }

    /// <summary>The backfill route: every tenant with a key, in per-tenant work items on the nightly queue, over <paramref name="days"/> days to today.</summary>
    public async Task<BackfillPlan> PlanBackfillAsync(int days, CancellationToken cancellationToken)
    {
        (DateOnly from, DateOnly to) = backfill.Window(days);
        IReadOnlyList<WorkTenantDay> tenants = await backfill.ItemsAsync(from, cancellationToken);

        // An item carries fewer tenants than other kinds carry tenant-days: each tenant is a partition read per day.
        WorkTenantDay[][] batches = [.. tenants.Chunk(BackfillTenantsPerItem)];
        await Bounded.SelectAsync(batches, reports.MaxStorageRequestsInFlight, async (chunk, ct) =>
        {
            await queue.EnqueueAsync(options.Nightly, new WorkBatch(WorkKinds.Backfill, chunk), ct);
            return chunk.Length;
        }, cancellationToken);
        return new BackfillPlan(tenants.Count, batches.Length, from, to);
    }

    /// <summary>Tenants per backfill item: 35 days of 5 tenants is 175 partition reads, seconds of work.</summary>
    public const int BackfillTenantsPerItem = 5;

    /// <summary>Runs one work item; throws when any of its tenant-days failed, so the platform retries the whole (idempotent) item.</summary>
    public async Task<WorkResult> HandleAsync(WorkBatch batch, CancellationToken cancellationToken)
    {
        IReadOnlyList<WorkTenantDay> items = batch.Items;
        switch (batch.Kind)
        {
            case WorkKinds.Reconcile:
                return new WorkResult(batch.Kind, items.Count, Reconcile: await reconciler.RunAsync([.. items.Select(i => i.TenantDay)], cancellationToken));
            case WorkKinds.Consistency:
                return new WorkResult(batch.Kind, items.Count, Consistency: await consistency.RunAsync(items.Single().Day, cancellationToken));
            case WorkKinds.Roll:
                await rollups.RollAsync([.. items.Select(i => (i.TenantDay, i.DirtyVersion))], cancellationToken);
                ExportReport[] rolled = await Bounded.SelectAsync(
                    items, reports.MaxStorageRequestsInFlight, (item, ct) => exports.RecordAsync(item.Tenant, item.Day, ct), cancellationToken);
                return new WorkResult(batch.Kind, items.Count, Export: Sum(rolled));
            case WorkKinds.Export:
                ExportReport[] recorded = await Bounded.SelectAsync(
                    items, reports.MaxStorageRequestsInFlight, (item, ct) => exports.RecordAsync(item.Tenant, item.Day, ct), cancellationToken);
                return new WorkResult(batch.Kind, items.Count, Export: Sum(recorded));
            case WorkKinds.Purge:
                int[] purged = await Bounded.SelectAsync(
                    items, reports.MaxStorageRequestsInFlight, (item, ct) => exports.PurgeAsync(item.Tenant, item.Day, ct), cancellationToken);
                return new WorkResult(batch.Kind, items.Count, Purged: purged.Sum());
            case WorkKinds.Backfill:
                return new WorkResult(batch.Kind, items.Count, Backfill: await backfill.RunAsync(items, cancellationToken));
            default:
                // Left to the poison queue after the retries: a message this version cannot read is for an operator.
                throw new InvalidOperationException($"Unknown work item kind '{batch.Kind}'.");
        }
    }

    private async Task<int> EnqueueAsync(string queueName, string kind, IReadOnlyList<WorkTenantDay> items, CancellationToken cancellationToken)
    {
        WorkTenantDay[][] batches = [.. items.Chunk(WorkQueueOptions.BatchSize)];
        await Bounded.SelectAsync(batches, reports.MaxStorageRequestsInFlight, async (chunk, ct) =>
        {
            await queue.EnqueueAsync(queueName, new WorkBatch(kind, chunk), ct);
            return chunk.Length;
        }, cancellationToken);
        return batches.Length;
    }

    private static ExportReport Sum(IEnumerable<ExportReport> reports) => reports.Aggregate(new ExportReport("exported"), (a, b) => a.Add(b));

    private DateOnly Today() => DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
}
