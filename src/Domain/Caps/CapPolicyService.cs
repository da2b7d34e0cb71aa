using Keybrake.Domain.Common;
using Keybrake.Domain.Labels;
using Keybrake.Domain.Operators;

namespace Keybrake.Domain.Caps;

/// <summary>Sets tenants' plans and the cap policy (root only), and computes policy caps for new keys.</summary>
public sealed class CapPolicyService(ICapPolicyStore store)
{
    public async Task<CapPolicy> GetPolicyAsync(CancellationToken cancellationToken) =>
        await store.GetPolicyAsync(cancellationToken) ?? CapPolicy.Default;

    public async Task<CapPolicy> PutPolicyAsync(OperatorPrincipal caller, CapPolicy policy, CancellationToken cancellationToken)
    {
        caller.EnsureRoot();
        policy.Validate();
        await store.PutPolicyAsync(policy, cancellationToken);
        return policy;
    }

    /// <summary>The tenant's plan as set (null when none was: the policy's default plan applies).</summary>
    public Task<string?> GetPlanAsync(string tenant, CancellationToken cancellationToken) => store.GetPlanAsync(tenant, cancellationToken);

    public async Task<string> PutPlanAsync(OperatorPrincipal caller, string tenant, string? plan, CancellationToken cancellationToken)
    {
        caller.EnsureRoot();
        if (!Label.IsValidTenant(tenant))
        {
            throw KeybrakeException.Invalid("tenant", "must be lowercase letters, digits and '-', 1 to 63 characters, not starting with '-'.");
        }

        CapPolicy policy = await GetPolicyAsync(cancellationToken);
        if (plan is null || !policy.PlanDailyUsd.ContainsKey(plan))
        {
            throw KeybrakeException.Invalid("plan", $"must be one of {string.Join(", ", policy.PlanDailyUsd.Keys.Order(StringComparer.Ordinal))}.");
        }

        await store.PutPlanAsync(tenant, plan, cancellationToken);
        return plan;
    }

    public async Task<(long CapMicros, string Rule)> CapForAsync(Label label, CancellationToken cancellationToken)
    {
        CapPolicy policy = await GetPolicyAsync(cancellationToken);
        string? plan = await store.GetPlanAsync(label.Tenant, cancellationToken);
        return policy.CapFor(plan, label.AgentType);
    }
}
