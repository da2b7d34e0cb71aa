using Keybrake.Domain.Alerts;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;

namespace Keybrake.Functions.Timers;

/// <summary>Budget thresholds swept every five minutes (the proxy fires most of them as they are crossed); the alert queue worked every minute.</summary>
public sealed partial class AlertFunctions(BudgetAlerts budgetAlerts, AlertDelivery delivery, ILogger<AlertFunctions> logger)
{
    [Function("BudgetAlerts")]
    public async Task CheckBudgetsAsync([TimerTrigger("%Timers:BudgetAlerts%")] TimerInfo timer, CancellationToken cancellationToken)
    {
        int fired = await budgetAlerts.CheckAllAsync(cancellationToken);
        LogFired(logger, fired);
    }

    [Function("DeliverAlerts")]
    public async Task DeliverAsync([TimerTrigger("%Timers:DeliverAlerts%")] TimerInfo timer, CancellationToken cancellationToken)
    {
        DeliveryReport report = await delivery.DeliverDueAsync(cancellationToken);
        LogDelivered(logger, report.Delivered, report.Failed, report.Skipped);
    }

    [LoggerMessage(EventId = 4003, Level = LogLevel.Information, Message = "Budget alerts: {Fired} fired")]
    private static partial void LogFired(ILogger logger, int fired);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Information, Message = "Alert delivery: {Delivered} delivered, {Failed} failed (will retry), {Skipped} taken by another instance")]
    private static partial void LogDelivered(ILogger logger, int delivered, int failed, int skipped);
}
