using Keybrake.Domain.Work;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace Keybrake.Functions.Http;

/// <summary>Root's one-off operations: the backfill of the indexes after an upgrade from a version without them.</summary>
public sealed class MaintenanceFunctions(OperatorEndpoint endpoint, FanOutWork work)
{
    private static readonly string[] BackfillFields = ["days"];

    [Function("Backfill")]
    public Task<IActionResult> BackfillAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "v1/maintenance/backfill")] HttpRequest request,
        CancellationToken cancellationToken) =>
        endpoint.RunWriteAsync(request, async caller =>
        {
            // It reads every tenant's partitions: root only.
            caller.EnsureRoot();
            JsonBody body = await JsonBody.ReadAsync(request, BackfillFields, cancellationToken);
            BackfillPlan plan = await work.PlanBackfillAsync(body.OptionalInt("days") ?? IndexBackfill.DefaultDays, cancellationToken);
            var view = new
            {
                from = plan.From.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
                to = plan.To.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
                tenants = plan.Tenants,
                work_items = plan.Messages,
            };
            return new OperatorWrite(ApiJson.Result(view, StatusCodes.Status202Accepted), "backfill", Tenant: null, After: view);
        }, cancellationToken);
}
