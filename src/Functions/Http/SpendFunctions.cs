using Keybrake.Domain.Audit;
using Keybrake.Domain.Common;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace Keybrake.Functions.Http;

/// <summary><c>GET /v1/spend</c>: spend grouped by tenant, label level or vendor, as JSON or as a CSV spreadsheet.</summary>
public sealed class SpendFunctions(OperatorEndpoint endpoint, SpendQueryService spend)
{
    [Function("QuerySpend")]
    public Task<IActionResult> SpendAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v1/spend")] HttpRequest request,
        CancellationToken cancellationToken) =>
        endpoint.RunAsync(request, async caller =>
        {
            string? groupBy = request.Query["group_by"];
            SpendReport report = await spend.QueryAsync(
                caller, QueryValues.Time(request, "since"), QueryValues.Time(request, "until"), groupBy, request.Query["label_prefix"], request.Query["vendor"], cancellationToken);
            IReadOnlyList<SpendGroup> groups = report.Groups;
            bool csv = request.Query["format"] == "csv" || request.Headers.Accept.Any(a => a?.Contains("text/csv", StringComparison.OrdinalIgnoreCase) == true);
            if (csv)
            {
                return new ContentResult { Content = Csv(string.IsNullOrEmpty(groupBy) ? "tenant" : groupBy, groups), ContentType = "text/csv; charset=utf-8", StatusCode = StatusCodes.Status200OK };
            }

            return ApiJson.Result(new { groups = groups.Select(g => new
            {
                key = string.Join('|', g.Keys),
                keys = g.Keys,
                cost_usd = Usd.FromMicros(g.NetMicros),
                gross_usd = Usd.FromMicros(g.GrossMicros),
                refunds_usd = Usd.FromMicros(g.RefundsMicros),
                fee_usd = Usd.FromMicros(g.FeeMicros),
                calls = g.Calls,
                denied = g.Denied,
            }), read = new { rollup_partitions = report.RollupPartitions, rolled_days = report.RolledDays, audit_partitions = report.AuditPartitions, entities = report.EntitiesRead } });
        }, cancellationToken);

    /// <summary>The showback spreadsheet: one row per group, money with six decimals.</summary>
    private static string Csv(string groupBy, IReadOnlyList<SpendGroup> groups)
    {
        var csv = new System.Text.StringBuilder();
        csv.Append(groupBy.Replace(" ", string.Empty, StringComparison.Ordinal)).Append(",cost_usd,gross_usd,refunds_usd,fee_usd,calls,denied\n");
        foreach (SpendGroup g in groups)
        {
            csv.Append(string.Join(',', g.Keys.Select(CsvField))).Append(',')
                .Append(Usd.Format(g.NetMicros)).Append(',').Append(Usd.Format(g.GrossMicros)).Append(',')
                .Append(Usd.Format(g.RefundsMicros)).Append(',').Append(Usd.Format(g.FeeMicros)).Append(',')
                .Append(g.Calls.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append(',')
                .Append(g.Denied.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append('\n');
        }

        return csv.ToString();
    }

    /// <summary>Quotes a field when needed, and defuses spreadsheet formulas (a label may start with '=').</summary>
    private static string CsvField(string value)
    {
        string safe = value.Length > 0 && value[0] is '=' or '+' or '-' or '@' ? "'" + value : value;
        return safe.Contains(',', StringComparison.Ordinal) || safe.Contains('"', StringComparison.Ordinal)
            ? "\"" + safe.Replace("\"", "\"\"", StringComparison.Ordinal) + "\""
            : safe;
    }
}
