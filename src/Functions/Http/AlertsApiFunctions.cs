using Keybrake.Domain.Alerts;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace Keybrake.Functions.Http;

/// <summary>Budget threshold and loop-breaker alerts, with where their webhook delivery stands.</summary>
public sealed class AlertsApiFunctions(OperatorEndpoint endpoint, AlertQueryService alerts)
{
    [Function("ListAlerts")]
    public Task<IActionResult> ListAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v1/alerts")] HttpRequest request,
        CancellationToken cancellationToken) =>
        endpoint.RunAsync(request, async caller =>
            ApiJson.Result(new { alerts = (await alerts.ListAsync(caller, QueryValues.Time(request, "since"), cancellationToken)).Select(View) }),
            cancellationToken);

    private static object View(Alert a) => new
    {
        id = a.Id,
        tenant = a.Tenant,
        kind = a.Kind,
        subject = a.Subject,
        message = a.Message,
        fired_at = a.FiredAt.UtcDateTime,
        details = a.Details,
        delivery_state = a.DeliveryState,
        attempts = a.Attempts,
        delivered_at = a.DeliveredAt?.UtcDateTime,
        next_attempt_at = a.NextAttemptAt?.UtcDateTime,
        last_error = a.LastError,
    };
}
