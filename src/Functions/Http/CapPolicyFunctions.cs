using Keybrake.Domain.Caps;
using Keybrake.Domain.Labels;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace Keybrake.Functions.Http;

/// <summary>Tenants' plans and the server-side cap policy for keys issued without a cap.</summary>
public sealed class CapPolicyFunctions(OperatorEndpoint endpoint, CapPolicyService policies)
{
    private static readonly string[] PolicyFields = ["plan_daily_usd", "agent_multipliers", "default_multiplier", "minimum_usd", "default_plan"];
    private static readonly string[] TenantFields = ["plan"];

    [Function("GetCapPolicy")]
    public Task<IActionResult> GetAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v1/cap-policy")] HttpRequest request,
        CancellationToken cancellationToken) =>
        endpoint.RunAsync(request, async _ => ApiJson.Result(View(await policies.GetPolicyAsync(cancellationToken))), cancellationToken);

    [Function("PutCapPolicy")]
    public Task<IActionResult> PutAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "put", Route = "v1/cap-policy")] HttpRequest request,
        CancellationToken cancellationToken) =>
        endpoint.RunWriteAsync(request, async caller =>
        {
            caller.EnsureRoot();
            JsonBody body = await JsonBody.ReadAsync(request, PolicyFields, cancellationToken);
            CapPolicy current = await policies.GetPolicyAsync(cancellationToken);
            var policy = new CapPolicy(
                body.OptionalDecimalMap("plan_daily_usd") ?? current.PlanDailyUsd,
                body.OptionalDecimalMap("agent_multipliers") ?? current.AgentMultipliers,
                body.OptionalDecimal("default_multiplier") ?? current.DefaultMultiplier,
                body.OptionalDecimal("minimum_usd") ?? current.MinimumUsd,
                body.OptionalString("default_plan") ?? current.DefaultPlan);
            object after = View(await policies.PutPolicyAsync(caller, policy, cancellationToken));
            return new OperatorWrite(ApiJson.Result(after), "cap-policy", Tenant: null, View(current), after);
        }, cancellationToken);

    [Function("PutTenant")]
    public Task<IActionResult> PutTenantAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "put", Route = "v1/tenants/{tenant}")] HttpRequest request,
        string tenant,
        CancellationToken cancellationToken) =>
        endpoint.RunWriteAsync(request, async caller =>
        {
            caller.EnsureRoot();
            JsonBody body = await JsonBody.ReadAsync(request, TenantFields, cancellationToken);
            string? before = Label.IsValidTenant(tenant) ? await policies.GetPlanAsync(tenant, cancellationToken) : null;
            string plan = await policies.PutPlanAsync(caller, tenant, body.RequiredString("plan"), cancellationToken);
            var after = new { tenant, plan };
            return new OperatorWrite(ApiJson.Result(after), tenant, tenant, before is null ? null : new { tenant, plan = before }, after);
        }, cancellationToken);

    private static object View(CapPolicy policy) => new
    {
        plan_daily_usd = policy.PlanDailyUsd,
        agent_multipliers = policy.AgentMultipliers,
        default_multiplier = policy.DefaultMultiplier,
        minimum_usd = policy.MinimumUsd,
        default_plan = policy.DefaultPlan,
    };
}
