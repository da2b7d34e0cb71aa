using Keybrake.Domain.Activity;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Export;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;

namespace Keybrake.Functions.Timers;

/// <summary>
/// Shortly after 00:00 UTC: roll up the active tenant-days not rolled yet (yesterday's, and any of the last five weeks a
/// missed run left) and the closed days marked dirty by late changes; then export each of those days' net spend, and
/// the two days before yesterday's, to the billing meter. Every step reads the activity index, not the tenant list.
/// </summary>
public sealed partial class RollupFunction(RollupService rollups, ExportService exports, TimeProvider time, ILogger<RollupFunction> logger)
{
    [Function("DailyRollup")]
    public async Task RunAsync([TimerTrigger("%Timers:DailyRollup%")] TimerInfo timer, CancellationToken cancellationToken)
    {
        DateOnly today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        IReadOnlyList<TenantDay> rolled = await rollups.CatchUpAsync(today, cancellationToken);
        foreach (DateOnly day in rolled.Select(r => r.Day).Union(Enumerable.Range(1, 3).Select(back => today.AddDays(-back))).Order())
        {
            ExportReport export = await exports.RunAsync(day, cancellationToken);
            ExportFunction.LogReport(logger, day, exports.Target, export);
        }

        DateOnly yesterday = today.AddDays(-1);
        LogRolledUp(logger, yesterday, rolled.Count);
    }

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Rolled up the days up to {Date}: {TenantDays} tenant-days")]
    private static partial void LogRolledUp(ILogger logger, DateOnly date, int tenantDays);
}
