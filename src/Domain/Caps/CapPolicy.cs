using Keybrake.Domain.Common;

namespace Keybrake.Domain.Caps;

/// <summary>
/// The server-side cap policy (docs/design.md §5, "Cap policy"): a key issued without
/// <c>daily_usd_cap</c> gets the base daily cap of its tenant's plan × the multiplier of its agent type,
/// never below the minimum.
/// </summary>
public sealed record CapPolicy(
    IReadOnlyDictionary<string, decimal> PlanDailyUsd,
    IReadOnlyDictionary<string, decimal> AgentMultipliers,
    decimal DefaultMultiplier,
    decimal MinimumUsd,
    string DefaultPlan)
{
    public static CapPolicy Default { get; } = new(
        new Dictionary<string, decimal>(StringComparer.Ordinal) { ["free"] = 5m, ["hobby"] = 50m, ["team"] = 200m, ["scale"] = 1000m },
        new Dictionary<string, decimal>(StringComparer.Ordinal)
        {
            ["billing-agent"] = 1.0m, ["onboarding-agent"] = 0.5m, ["notify-agent"] = 0.1m, ["reporting-agent"] = 0.0m,
        },
        DefaultMultiplier: 0.5m,
        MinimumUsd: 1m,
        DefaultPlan: "free");

    /// <summary>The cap in micro-dollars and a description of the rule that produced it.</summary>
    public (long CapMicros, string Rule) CapFor(string? plan, string? agentType)
    {
        string effectivePlan = plan is not null && PlanDailyUsd.ContainsKey(plan) ? plan : DefaultPlan;
        decimal baseUsd = PlanDailyUsd.TryGetValue(effectivePlan, out decimal configured) ? configured : MinimumUsd;
        bool known = agentType is not null && AgentMultipliers.ContainsKey(agentType);
        decimal multiplier = known ? AgentMultipliers[agentType!] : DefaultMultiplier;
        decimal cap = decimal.Round(Math.Max(baseUsd * multiplier, MinimumUsd), 6, MidpointRounding.AwayFromZero);
        string agent = known ? agentType! : $"{agentType ?? "no agent type"} (default)";
        return (Usd.ToMicros(cap), $"policy: plan {effectivePlan} ${baseUsd} x {agent} {multiplier}, minimum ${MinimumUsd}");
    }

    /// <summary>The largest plan amount (and minimum) a policy may set, in USD.</summary>
    public const decimal MaxPlanDailyUsd = 1_000_000_000m;

    public void Validate()
    {
        // Bounded so that amount × the largest multiplier (100) still fits in micro-dollars: an unbounded plan
        // amount (9223372036854775807) was accepted here and overflowed later, at key issue, as a 500.
        if (PlanDailyUsd.Count == 0 ||
            PlanDailyUsd.Any(p => p.Value <= 0 || p.Value > MaxPlanDailyUsd || !Usd.TryToMicros(p.Value, out _) || p.Key.Length is 0 or > 40))
        {
            throw KeybrakeException.Invalid("plan_daily_usd", $"must name at least one plan, each with an amount above 0 and at most {MaxPlanDailyUsd} with at most 6 decimals.");
        }

        if (AgentMultipliers.Any(a => a.Value < 0 || a.Value > 100 || a.Key.Length is 0 or > 60) || DefaultMultiplier is < 0 or > 100)
        {
            throw KeybrakeException.Invalid("agent_multipliers", "multipliers must be between 0 and 100.");
        }

        if (MinimumUsd <= 0 || MinimumUsd > MaxPlanDailyUsd || !Usd.TryToMicros(MinimumUsd, out _))
        {
            throw KeybrakeException.Invalid("minimum_usd", "must be above 0 with at most 6 decimals.");
        }

        if (!PlanDailyUsd.ContainsKey(DefaultPlan))
        {
            throw KeybrakeException.Invalid("default_plan", "must be one of the plans in plan_daily_usd.");
        }
    }
}

/// <summary>Tenants' plans and the cap policy, as operators set them.</summary>
public interface ICapPolicyStore
{
    Task<CapPolicy?> GetPolicyAsync(CancellationToken cancellationToken);

    Task PutPolicyAsync(CapPolicy policy, CancellationToken cancellationToken);

    Task<string?> GetPlanAsync(string tenant, CancellationToken cancellationToken);

    Task PutPlanAsync(string tenant, string plan, CancellationToken cancellationToken);
}
