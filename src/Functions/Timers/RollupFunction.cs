using Keybrake.Domain.Audit;
using Keybrake.Domain.Export;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;

namespace Keybrake.Functions.Timers;

/// <summary>
/// Shortly after 00:00 UTC: roll up yesterday, and the two days before it in case a run was missed or a
/// late settlement changed them, then export each day's net spend (or its change) to the billing meter.
/// </summary>
public sealed partial class RollupFunction(RollupService rollups, ExportService exports, TimeProvider time, ILogger<RollupFunction> logger)
{
    [Function("DailyRollup")]
    public async Task RunAsync([TimerTrigger("0 5 0 * * *")] TimerInfo timer, CancellationToken cancellationToken)
    {
        DateOnly today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        for (int back = 1; back <= 3; back++)
        {
            DateOnly day = today.AddDays(-back);
            int rows = await rollups.RunAsync(day, cancellationToken);
            LogRolledUp(logger, day, rows);
            ExportReport export = await exports.RunAsync(day, cancellationToken);
            ExportFunction.LogReport(logger, day, exports.Target, export);
        }
    }

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Rolled up {Date}: {Rows} rows")]
    private static partial void LogRolledUp(ILogger logger, DateOnly date, int rows);
}
