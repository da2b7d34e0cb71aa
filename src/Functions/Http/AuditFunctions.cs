using Keybrake.Domain.Audit;
using Keybrake.Domain.Common;
using Keybrake.Domain.Reconciliation;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace Keybrake.Functions.Http;

/// <summary>Operator resolution of calls the proxy could not settle on its own.</summary>
public sealed class AuditFunctions(OperatorEndpoint endpoint, InDoubtResolver resolver)
{
    private static readonly string[] ResolveFields = ["charged", "cost_usd"];

    [Function("ResolveInDoubt")]
    public Task<IActionResult> ResolveAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "v1/audit/{tenant}/{auditId}/resolve")] HttpRequest request,
        string tenant,
        string auditId,
        CancellationToken cancellationToken) =>
        endpoint.RunAsync(request, async caller =>
        {
            JsonBody body = await JsonBody.ReadAsync(request, ResolveFields, cancellationToken);
            bool charged = body.RequiredBool("charged");
            AuditEntry resolved = await resolver.ResolveAsync(caller, tenant, auditId, charged, body.OptionalDecimal("cost_usd"), cancellationToken);
            return new ApiJsonResult(new
            {
                id = resolved.Id,
                tenant = resolved.Tenant,
                outcome = resolved.Outcome,
                reason = resolved.Reason,
                cost_usd = Usd.FromMicros(resolved.CostMicros),
                cost_source = resolved.CostSource,
            });
        }, cancellationToken);
}
