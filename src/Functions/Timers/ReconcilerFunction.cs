using Keybrake.Domain.Reconciliation;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;

namespace Keybrake.Functions.Timers;

/// <summary>Every five minutes: settle late vendor prices and flag calls left in doubt, then check today's counters.</summary>
public sealed partial class ReconcilerFunction(Reconciler reconciler, ConsistencyCheck consistency, TimeProvider time, ILogger<ReconcilerFunction> logger)
{
    [Function("Reconciler")]
    public async Task RunAsync([TimerTrigger("%Timers:Reconciler%")] TimerInfo timer, CancellationToken cancellationToken)
    {
        ReconcileReport report = await reconciler.RunAsync(cancellationToken);
        LogReport(logger, report.Settled, report.StillEstimated, report.InDoubtFlagged, report.Failed, report.JournalsFinished);

        // What the reconciler leaves must agree with the audit rows; drift is logged for an operator to look at
        // (GET /v1/consistency shows which counters), never repaired blindly.
        ConsistencyReport check = await consistency.RunAsync(DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime), cancellationToken);
        if (check.DriftCount > 0)
        {
            LogDrift(logger, check.Date.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), check.DriftCount);
        }
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information,
        Message = "Reconciler: {Settled} settled, {StillEstimated} still estimated, {InDoubtFlagged} in-doubt flagged, {Failed} failed, {JournalsFinished} journal entries finished")]
    private static partial void LogReport(ILogger logger, int settled, int stillEstimated, int inDoubtFlagged, int failed, int journalsFinished);

    [LoggerMessage(EventId = 4010, Level = LogLevel.Warning, Message = "Consistency check of {Date}: {DriftCount} counter(s) or rollup row(s) disagree with the audit rows")]
    private static partial void LogDrift(ILogger logger, string date, int driftCount);
}
