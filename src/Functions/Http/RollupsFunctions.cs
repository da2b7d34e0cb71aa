using Keybrake.Domain.Audit;
using Keybrake.Domain.Common;
using Keybrake.Domain.Export;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace Keybrake.Functions.Http;

/// <summary>Daily rollups: list them, or (root) roll up any date again, and export a closed day's change to the meter.</summary>
public sealed class RollupsFunctions(OperatorEndpoint endpoint, RollupService rollups, ExportService exports)
{
    [Function("RunRollup")]
    public Task<IActionResult> RunAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "v1/rollups/{date}")] HttpRequest request,
        string date,
        CancellationToken cancellationToken) =>
        endpoint.RunWriteAsync(request, async caller =>
        {
            caller.EnsureRoot();
            DateOnly day = RollupService.ParseDate(date);
            int rows = await rollups.RunAsync(day, cancellationToken);
            ExportReport export = await exports.RunAsync(day, cancellationToken);
            string target = day.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
            return new OperatorWrite(ApiJson.Result(new
            {
                date = target,
                rows,
                export = ExportsApiFunctions.ReportView(export, exports.Target),
            }), target, Tenant: null, After: new { date = target, rows });
        }, cancellationToken);

    [Function("ListRollups")]
    public Task<IActionResult> ListAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v1/rollups")] HttpRequest request,
        CancellationToken cancellationToken) =>
        endpoint.RunAsync(request, async caller =>
        {
            DateOnly day = RollupService.ParseDate(request.Query["date"]);
            IReadOnlyList<Rollup> rows = await rollups.ListAsync(caller, day, cancellationToken);
            return ApiJson.Result(new
            {
                rollups = rows.Select(r => new
                {
                    tenant = r.Tenant,
                    date = r.Date.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
                    level = r.Level,
                    key = r.Key,
                    vendor = r.Vendor,
                    cost_usd = Usd.FromMicros(r.GrossMicros - r.RefundsMicros),
                    gross_usd = Usd.FromMicros(r.GrossMicros),
                    refunds_usd = Usd.FromMicros(r.RefundsMicros),
                    fee_usd = Usd.FromMicros(r.FeeMicros),
                    calls = r.Calls,
                    denied = r.Denied,
                }),
            });
        }, cancellationToken);
}
