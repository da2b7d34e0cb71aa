using Keybrake.Domain.Audit;
using Keybrake.Domain.Export;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;

namespace Keybrake.Functions.Timers;

/// <summary>
/// Shortly after 00:00 UTC: roll up yesterday, and catch up on any earlier day of the last five weeks that has
/// no complete rollup (missed runs); then export each of those days' net spend, and the two days before
/// yesterday's (late settlements change them), to the billing meter.
/// </summary>
public sealed partial class RollupFunction(RollupService rollups, ExportService exports, TimeProvider time, ILogger<RollupFunction> logger)
{
    [Function("DailyRollup")]
    public async Task RunAsync([TimerTrigger("%Timers:DailyRollup%")] TimerInfo timer, CancellationToken cancellationToken)
    {
        DateOnly today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        IReadOnlyList<DateOnly> rolled = await rollups.CatchUpAsync(today, cancellationToken);
        foreach (DateOnly day in rolled.Union(Enumerable.Range(1, 3).Select(back => today.AddDays(-back))).Order())
        {
            ExportReport export = await exports.RunAsync(day, cancellationToken);
            ExportFunction.LogReport(logger, day, exports.Target, export);
        }

        DateOnly yesterday = today.AddDays(-1);
        LogRolledUp(logger, yesterday, rolled.Count);
    }

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Rolled up the days up to {Date}: {Days} days")]
    private static partial void LogRolledUp(ILogger logger, DateOnly date, int days);
}
