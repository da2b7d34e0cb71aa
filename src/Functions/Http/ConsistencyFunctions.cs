using Keybrake.Domain.Audit;
using Keybrake.Domain.Common;
using Keybrake.Domain.Reconciliation;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace Keybrake.Functions.Http;

/// <summary>Root's check after an incident: a day's counters and rollups against the audit rows they summarise.</summary>
public sealed class ConsistencyFunctions(OperatorEndpoint endpoint, ConsistencyCheck check)
{
    [Function("CheckConsistency")]
    public Task<IActionResult> CheckAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v1/consistency")] HttpRequest request,
        CancellationToken cancellationToken) =>
        endpoint.RunAsync(request, async caller =>
        {
            // Counters and rollups span tenants (cross-tenant budgets): root only.
            caller.EnsureRoot();
            ConsistencyReport report = await check.RunAsync(RollupService.ParseDate(request.Query["date"]), cancellationToken);
            return ApiJson.Result(View(report));
        }, cancellationToken);

    public static object View(ConsistencyReport report) => new
    {
        date = report.Date.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
        drift_count = report.DriftCount,
        counters = report.Counters.Select(c => new
        {
            partition = c.Partition,
            counter = c.Counter,
            expected_usd = Usd.FromMicros(c.ExpectedMicros),
            actual_usd = Usd.FromMicros(c.ActualMicros),
            drift_usd = Usd.FromMicros(c.DriftMicros),
        }),
        rollups = report.Rollups.Select(r => new { tenant = r.Tenant, complete = r.Complete, rows_checked = r.RowsChecked }),
        rollup_drift = report.RollupDrift.Select(d => new
        {
            tenant = d.Tenant,
            level = d.Level,
            key = d.Key,
            vendor = d.Vendor,
            expected_cost_usd = d.Expected is Rollup e ? Usd.FromMicros(e.GrossMicros - e.RefundsMicros) : (decimal?)null,
            rolled_cost_usd = d.Rolled is Rollup r ? Usd.FromMicros(r.GrossMicros - r.RefundsMicros) : (decimal?)null,
            expected_calls = d.Expected?.Calls,
            rolled_calls = d.Rolled?.Calls,
        }),
    };
}
