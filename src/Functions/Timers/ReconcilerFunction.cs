using Keybrake.Domain.Work;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;

namespace Keybrake.Functions.Timers;

/// <summary>
/// Every five minutes: enqueue the reconciler's work (the look-back's active tenant-days, in batches) and today's
/// consistency check; the <c>ReconcileWork</c> queue function does them. The run reads the activity index only.
/// </summary>
public sealed partial class ReconcilerFunction(FanOutWork work, ILogger<ReconcilerFunction> logger)
{
    [Function("Reconciler")]
    public async Task RunAsync([TimerTrigger("%Timers:Reconciler%")] TimerInfo timer, CancellationToken cancellationToken)
    {
        WorkPlan plan = await work.PlanReconcileAsync(cancellationToken);
        LogPlanned(logger, plan.Reconcile, plan.Messages);
    }

    [LoggerMessage(EventId = 4005, Level = LogLevel.Information, Message = "Reconciler: {TenantDays} tenant-days enqueued in {Messages} work items (with the consistency check)")]
    private static partial void LogPlanned(ILogger logger, int tenantDays, int messages);
}
