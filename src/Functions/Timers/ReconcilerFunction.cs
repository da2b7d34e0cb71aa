using Keybrake.Domain.Reconciliation;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;

namespace Keybrake.Functions.Timers;

/// <summary>Every five minutes: settle late vendor prices and flag calls left in doubt.</summary>
public sealed partial class ReconcilerFunction(Reconciler reconciler, ILogger<ReconcilerFunction> logger)
{
    [Function("Reconciler")]
    public async Task RunAsync([TimerTrigger("%Timers:Reconciler%")] TimerInfo timer, CancellationToken cancellationToken)
    {
        ReconcileReport report = await reconciler.RunAsync(cancellationToken);
        LogReport(logger, report.Settled, report.StillEstimated, report.InDoubtFlagged, report.Failed);
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information,
        Message = "Reconciler: {Settled} settled, {StillEstimated} still estimated, {InDoubtFlagged} in-doubt flagged, {Failed} failed")]
    private static partial void LogReport(ILogger logger, int settled, int stillEstimated, int inDoubtFlagged, int failed);
}
