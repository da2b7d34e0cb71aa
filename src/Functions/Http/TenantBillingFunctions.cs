using Keybrake.Domain.Export;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace Keybrake.Functions.Http;

/// <summary>Tenants' billing customers in the chargeback meters (root sets them, a tenant token reads its own).</summary>
public sealed class TenantBillingFunctions(OperatorEndpoint endpoint, TenantBillingService billing)
{
    private static readonly string[] BillingFields = ["stripe_customer_id", "lago_external_subscription_id", "openmeter_subject"];

    [Function("PutTenantBilling")]
    public Task<IActionResult> PutAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "put", Route = "v1/tenants/{tenant}/billing")] HttpRequest request,
        string tenant,
        CancellationToken cancellationToken) =>
        endpoint.RunWriteAsync(request, async caller =>
        {
            caller.EnsureRoot();
            JsonBody body = await JsonBody.ReadAsync(request, BillingFields, cancellationToken);
            var mapping = new TenantBilling(tenant, body.OptionalString("stripe_customer_id"), body.OptionalString("lago_external_subscription_id"), body.OptionalString("openmeter_subject"));
            TenantBilling before = await billing.GetAsync(caller, tenant, cancellationToken);
            object after = View(await billing.PutAsync(caller, mapping, cancellationToken));
            return new OperatorWrite(ApiJson.Result(after), tenant, tenant, View(before), after);
        }, cancellationToken);

    [Function("GetTenantBilling")]
    public Task<IActionResult> GetAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v1/tenants/{tenant}/billing")] HttpRequest request,
        string tenant,
        CancellationToken cancellationToken) =>
        endpoint.RunAsync(request, async caller => ApiJson.Result(View(await billing.GetAsync(caller, tenant, cancellationToken))), cancellationToken);

    private static object View(TenantBilling b) => new
    {
        tenant = b.Tenant,
        stripe_customer_id = b.StripeCustomerId,
        lago_external_subscription_id = b.LagoExternalSubscriptionId,
        openmeter_subject = b.OpenMeterSubject,
    };
}
