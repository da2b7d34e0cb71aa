using Keybrake.Domain.Audit;
using Keybrake.Domain.Common;
using Keybrake.Domain.Reconciliation;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace Keybrake.Functions.Http;

/// <summary>Operator resolution of calls the proxy could not settle on its own.</summary>
public sealed class AuditFunctions(OperatorEndpoint endpoint, InDoubtResolver resolver, AuditQueryService audit, SpendQueryService spend)
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
            }), read = new { rollup_partitions = report.RollupPartitions, audit_partitions = report.AuditPartitions, entities = report.EntitiesRead } });
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

    private static readonly string[] ResolveFields = ["charged", "cost_usd"];

    [Function("QueryAudit")]
    public Task<IActionResult> QueryAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v1/audit")] HttpRequest request,
        CancellationToken cancellationToken) =>
        endpoint.RunAsync(request, async caller =>
        {
            AuditPage page = await audit.QueryAsync(
                caller,
                QueryValues.Time(request, "since"),
                QueryValues.Time(request, "until"),
                request.Query["label_prefix"],
                request.Query["vendor"],
                request.Query["outcome"],
                OperatorEndpoint.QueryInt(request, "limit"),
                request.Query["cursor"],
                cancellationToken);
            return ApiJson.Result(new { entries = page.Entries.Select(View), next_cursor = page.NextCursor });
        }, cancellationToken);

    [Function("ResolveInDoubt")]
    public Task<IActionResult> ResolveAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "v1/audit/{tenant}/{auditId}/resolve")] HttpRequest request,
        string tenant,
        string auditId,
        CancellationToken cancellationToken) =>
        endpoint.RunWriteAsync(request, async caller =>
        {
            JsonBody body = await JsonBody.ReadAsync(request, ResolveFields, cancellationToken);
            bool charged = body.RequiredBool("charged");
            AuditEntry resolved = await resolver.ResolveAsync(caller, tenant, auditId, charged, body.OptionalDecimal("cost_usd"), cancellationToken);
            var view = new
            {
                id = resolved.Id,
                tenant = resolved.Tenant,
                outcome = resolved.Outcome,
                reason = resolved.Reason,
                cost_usd = Usd.FromMicros(resolved.CostMicros),
                cost_source = resolved.CostSource,
            };
            return new OperatorWrite(ApiJson.Result(view), resolved.Id, resolved.Tenant, After: view);
        }, cancellationToken);

    /// <summary>An audit row as the API shows it (docs/design.md §6); money in USD decimals.</summary>
    private static object View(AuditEntry e) => new
    {
        id = e.Id,
        ts = e.Timestamp.UtcDateTime,
        tenant = e.Tenant,
        label = e.Label,
        key_id = e.KeyId,
        vendor = e.Vendor,
        method = e.Method,
        path = e.Path,
        operation = e.Operation,
        status = e.Status,
        outcome = e.Outcome,
        reason = e.Reason,
        cost_usd = Usd.FromMicros(e.CostMicros),
        cost_source = e.CostSource,
        fee_usd = e.FeeMicros is long fee ? Usd.FromMicros(fee) : (decimal?)null,
        overshoot_usd = e.OvershootMicros is long overshoot ? Usd.FromMicros(overshoot) : (decimal?)null,
        currency = e.Currency,
        amount_minor = e.AmountMinor,
        vendor_object_id = e.VendorObjectId,
        vendor_request_id = e.VendorRequestId,
        idempotency_key = e.IdempotencyKey,
        latency_ms = e.LatencyMs,
        upstream_ms = e.UpstreamMs,
    };
}
