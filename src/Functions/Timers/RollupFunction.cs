using Keybrake.Domain.Work;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;

namespace Keybrake.Functions.Timers;

/// <summary>
/// Shortly after 00:00 UTC: enqueue the nightly work, from the activity index and dirty marks alone: the active
/// tenant-days not rolled yet (yesterday's, and any of the last five weeks a missed run left) and the closed days
/// marked dirty, each exported once rolled; the export of the three days before today; the purge of export rows past
/// their retention. The <c>NightlyWork</c> queue function does them, a batch per invocation.
/// </summary>
public sealed partial class RollupFunction(FanOutWork work, ILogger<RollupFunction> logger)
{
    [Function("DailyRollup")]
    public async Task RunAsync([TimerTrigger("%Timers:DailyRollup%")] TimerInfo timer, CancellationToken cancellationToken)
    {
        WorkPlan plan = await work.PlanNightlyAsync(cancellationToken);
        LogPlanned(logger, plan.Roll, plan.Export, plan.Purge, plan.Messages);
    }

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information,
        Message = "Nightly run: {Roll} tenant-days to roll up, {Export} to export, {Purge} to purge, enqueued in {Messages} work items")]
    private static partial void LogPlanned(ILogger logger, int roll, int export, int purge, int messages);
}
