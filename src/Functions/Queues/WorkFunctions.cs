using System.Globalization;
using Keybrake.Domain.Export;
using Keybrake.Domain.Reconciliation;
using Keybrake.Domain.Work;
using Keybrake.Infrastructure.Queues;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;

namespace Keybrake.Functions.Queues;

/// <summary>
/// The queue-triggered halves of the timers: one work item (a batch of tenant-days) per invocation. A failure throws,
/// so the platform makes the message visible again and retries it (host.json <c>maxDequeueCount</c>, then the
/// <c>{queue}-poison</c> queue for an operator); the handlers are idempotent, so a retry or a second delivery is harmless.
/// </summary>
public sealed partial class WorkFunctions(FanOutWork work, ILogger<WorkFunctions> logger)
{
    [Function("ReconcileWork")]
    public Task ReconcileAsync([QueueTrigger("%Queues:Reconcile%")] string message, CancellationToken cancellationToken) =>
        HandleAsync(message, cancellationToken);

    [Function("NightlyWork")]
    public Task NightlyAsync([QueueTrigger("%Queues:Nightly%")] string message, CancellationToken cancellationToken) =>
        HandleAsync(message, cancellationToken);

    private async Task HandleAsync(string message, CancellationToken cancellationToken)
    {
        WorkResult result = await work.HandleAsync(StorageWorkQueue.Deserialize(message), cancellationToken);
        if (result.Reconcile is ReconcileReport r)
        {
            LogReconciled(logger, result.Items, r.Settled, r.StillEstimated, r.InDoubtFlagged, r.InDoubtResolved, r.Failed, r.JournalsFinished);
        }

        if (result.Consistency is ConsistencyReport check && check.DriftCount > 0)
        {
            // What the reconciler leaves must agree with the audit rows; drift is logged for an operator to look at
            // (GET /v1/consistency shows which counters), never repaired blindly.
            LogDrift(logger, check.Date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), check.DriftCount);
        }

        if (result.Export is ExportReport e)
        {
            LogExported(logger, result.Kind, result.Items, e.Recorded, e.Skipped, e.Unmapped, e.Expired);
        }

        if (result.Backfill is BackfillReport b)
        {
            LogBackfilled(logger, result.Items, b.TenantDays, b.Active, b.UnsettledIndexed, b.ExportsIndexed);
        }

        if (result.Kind == WorkKinds.Purge)
        {
            LogPurged(logger, result.Items, result.Purged);
        }
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information,
        Message = "Reconciler work item of {TenantDays} tenant-days: {Settled} settled, {StillEstimated} still estimated, {InDoubtFlagged} in-doubt flagged, {InDoubtResolved} in-doubt resolved, {Failed} failed, {JournalsFinished} journal entries finished")]
    private static partial void LogReconciled(ILogger logger, int tenantDays, int settled, int stillEstimated, int inDoubtFlagged, int inDoubtResolved, int failed, int journalsFinished);

    [LoggerMessage(EventId = 4010, Level = LogLevel.Warning, Message = "Consistency check of {Date}: {DriftCount} counter(s) or rollup row(s) disagree with the audit rows")]
    private static partial void LogDrift(ILogger logger, string date, int driftCount);

    [LoggerMessage(EventId = 4013, Level = LogLevel.Information,
        Message = "Nightly work item ({Kind}) of {TenantDays} tenant-days: export {Recorded} recorded, {Skipped} skipped (sub-cent), {Unmapped} without a billing customer, {Expired} past the retention (not exported)")]
    private static partial void LogExported(ILogger logger, string kind, int tenantDays, int recorded, int skipped, int unmapped, int expired);

    [LoggerMessage(EventId = 4015, Level = LogLevel.Information,
        Message = "Backfill of {Tenants} tenants: {TenantDays} tenant-days read, {Active} with audit rows (in the activity index now), {UnsettledIndexed} unsettled rows indexed, {ExportsIndexed} pending export rows indexed")]
    private static partial void LogBackfilled(ILogger logger, int tenants, int tenantDays, int active, int unsettledIndexed, int exportsIndexed);

    [LoggerMessage(EventId = 4014, Level = LogLevel.Information, Message = "Nightly purge of {TenantDays} tenant-days: {Deleted} old export rows deleted")]
    private static partial void LogPurged(ILogger logger, int tenantDays, int deleted);
}
