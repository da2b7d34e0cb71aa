using Keybrake.Domain.Audit;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;

namespace Keybrake.Functions.Timers;

/// <summary>
/// Shortly after 00:00 UTC: roll up yesterday, and catch up on any earlier day of the last five weeks that has
/// no complete rollup (missed runs). Days whose costs settle later are re-rolled by the reconciler.
/// </summary>
public sealed partial class RollupFunction(RollupService rollups, TimeProvider time, ILogger<RollupFunction> logger)
{
    [Function("DailyRollup")]
    public async Task RunAsync([TimerTrigger("0 5 0 * * *")] TimerInfo timer, CancellationToken cancellationToken)
    {
        DateOnly today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        int tenantDays = await rollups.CatchUpAsync(today, cancellationToken);
        DateOnly yesterday = today.AddDays(-1);
        LogRolledUp(logger, yesterday, tenantDays);
    }

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Rolled up the days up to {Date}: {TenantDays} tenant-days")]
    private static partial void LogRolledUp(ILogger logger, DateOnly date, int tenantDays);
}
