using Keybrake.Domain.Audit;
using Keybrake.Domain.Common;
using Keybrake.Domain.Reconciliation;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace Keybrake.Functions.Http;

/// <summary>The audit trail (<c>GET /v1/audit</c>) and operator resolution of calls the proxy could not settle on its own.</summary>
public sealed class AuditFunctions(OperatorEndpoint endpoint, InDoubtResolver resolver, AuditQueryService audit)
{
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
