using Keybrake.Domain.Caps;
using Keybrake.Domain.Common;
using Keybrake.Domain.Labels;
using Keybrake.Domain.Operators;

namespace Keybrake.Domain.Tests.Caps;

/// <summary>
/// The server-side cap policy (docs/design.md §5, "Cap policy"): the base daily cap of
/// the tenant's plan (free 5, hobby 50, team 200, scale 1000) × the agent type's multiplier (billing 1.0,
/// onboarding 0.5, notify 0.1, reporting 0.0), at least $1.
/// </summary>
public sealed class CapPolicyTests
{
    [Theory]
    [InlineData("free", "billing-agent", 5_000_000)]
    [InlineData("hobby", "billing-agent", 50_000_000)]
    [InlineData("team", "billing-agent", 200_000_000)]
    [InlineData("scale", "billing-agent", 1_000_000_000)]
    [InlineData("hobby", "onboarding-agent", 25_000_000)]
    [InlineData("team", "notify-agent", 20_000_000)]
    [InlineData("scale", "notify-agent", 100_000_000)]
    [InlineData("free", "notify-agent", 1_000_000)] // $0.50 is below the $1 minimum
    [InlineData("scale", "reporting-agent", 1_000_000)] // × 0.0, raised to the minimum
    [InlineData("free", "onboarding-agent", 2_500_000)]
    public void TheDefaultPolicy_IsPlanTimesAgentMultiplier_AtLeastOneDollar(string plan, string agentType, long micros) =>
        Assert.Equal(micros, CapPolicy.Default.CapFor(plan, agentType).CapMicros);

    [Theory]
    [InlineData(null)]
    [InlineData("enterprise")] // a plan the policy does not list
    public void ATenantWithoutAKnownPlan_GetsTheDefaultPlan(string? plan) =>
        Assert.Equal(5_000_000, CapPolicy.Default.CapFor(plan, "billing-agent").CapMicros);

    [Fact]
    public void AnAgentTypeThePolicyDoesNotList_GetsTheDefaultMultiplier()
    {
        CapPolicy policy = Policy(defaultMultiplier: 0.25m);

        Assert.Equal(25_000_000, policy.CapFor("pro", "new-agent").CapMicros); // $100 × 0.25
        Assert.Equal(25_000_000, policy.CapFor("pro", null).CapMicros);
    }

    [Fact]
    public void ACapFromMultipliersWithManyDecimals_IsWholeMicroDollars_RoundedHalfUp() =>
        Assert.Equal(1_000_001, Policy(plan: 1m, multiplier: 1.0000005m).CapFor("pro", "agent").CapMicros);

    [Fact]
    public void TheLargestPolicyAllowed_StillFitsInMicroDollars() =>
        Assert.Equal(100_000_000_000_000_000, Policy(plan: CapPolicy.MaxPlanDailyUsd, multiplier: 100m).CapFor("pro", "agent").CapMicros);

    [Fact]
    public void TheDefaultPolicy_IsValid() => CapPolicy.Default.Validate();

    public static TheoryData<string, CapPolicy> InvalidPolicies => new()
    {
        { "no plans", CapPolicy.Default with { PlanDailyUsd = new Dictionary<string, decimal>() } },
        { "a plan of $0", Policy(plan: 0m) },
        { "a negative plan", Policy(plan: -5m) },
        { "a plan over the maximum", Policy(plan: CapPolicy.MaxPlanDailyUsd + 1) },
        { "a plan below a micro-dollar", Policy(plan: 1.0000001m) },
        { "an unnamed plan", CapPolicy.Default with { PlanDailyUsd = new Dictionary<string, decimal> { [""] = 5m }, DefaultPlan = "" } },
        { "a negative multiplier", Policy(multiplier: -0.1m) },
        { "a multiplier over 100", Policy(multiplier: 100.01m) },
        { "a default multiplier over 100", Policy(defaultMultiplier: 101m) },
        { "a minimum of $0", Policy() with { MinimumUsd = 0m } },
        { "a minimum below a micro-dollar", Policy() with { MinimumUsd = 0.0000001m } },
        { "a default plan not listed", Policy() with { DefaultPlan = "free" } },
    };

    [Theory]
    [MemberData(nameof(InvalidPolicies))]
    public void AnInvalidPolicy_IsRefused(string why, CapPolicy policy) =>
        Assert.True(Assert.Throws<KeybrakeException>(policy.Validate).Kind == ErrorKind.Validation, why);

    [Fact]
    public async Task WithoutAStoredPolicy_TheDefaultApplies() =>
        Assert.Same(CapPolicy.Default, await new CapPolicyService(new PolicyStore()).GetPolicyAsync(CancellationToken.None));

    [Fact]
    public async Task OnlyRoot_SetsThePolicyOrPlans()
    {
        var store = new PolicyStore();
        var service = new CapPolicyService(store);
        var tenant = new OperatorPrincipal("acme", "tok_1");

        Assert.Equal(ErrorKind.Forbidden, (await Assert.ThrowsAsync<KeybrakeException>(() => service.PutPolicyAsync(tenant, Policy(), CancellationToken.None))).Kind);
        Assert.Equal(ErrorKind.Forbidden, (await Assert.ThrowsAsync<KeybrakeException>(() => service.PutPlanAsync(tenant, "acme", "team", CancellationToken.None))).Kind);
        Assert.Null(store.Policy);
        Assert.Empty(store.Plans);
    }

    [Fact]
    public async Task AnInvalidPolicy_IsNotStored()
    {
        var store = new PolicyStore();

        await Assert.ThrowsAsync<KeybrakeException>(() => new CapPolicyService(store).PutPolicyAsync(OperatorPrincipal.Root, Policy(plan: 0m), CancellationToken.None));

        Assert.Null(store.Policy);
    }

    [Theory]
    [InlineData("Acme", "team")] // tenants are lowercase
    [InlineData("-acme", "team")]
    [InlineData("acme:x", "team")]
    [InlineData("acme", "enterprise")] // not a plan of the policy
    [InlineData("acme", null)]
    public async Task APlan_IsSetOnlyForAValidTenant_ToAPlanThePolicyHas(string tenant, string? plan)
    {
        var store = new PolicyStore();

        Assert.Equal(ErrorKind.Validation, (await Assert.ThrowsAsync<KeybrakeException>(() =>
            new CapPolicyService(store).PutPlanAsync(OperatorPrincipal.Root, tenant, plan, CancellationToken.None))).Kind);
        Assert.Empty(store.Plans);
    }

    [Fact]
    public async Task ANewKeysCap_IsTheTenantsPlanTimesItsLabelsAgentType()
    {
        var service = new CapPolicyService(new PolicyStore());
        await service.PutPlanAsync(OperatorPrincipal.Root, "acme", "team", CancellationToken.None);

        Assert.Equal(20_000_000, (await service.CapForAsync(Label.Parse("acme:notify-agent:sms:run-1"), CancellationToken.None)).CapMicros);
        Assert.Equal(5_000_000, (await service.CapForAsync(Label.Parse("globex:billing-agent"), CancellationToken.None)).CapMicros); // no plan set: free
    }

    [Fact]
    public async Task ANewPolicy_AppliesToTheNextKey()
    {
        var service = new CapPolicyService(new PolicyStore());
        await service.PutPolicyAsync(OperatorPrincipal.Root, Policy(plan: 40m, multiplier: 0.5m), CancellationToken.None);
        await service.PutPlanAsync(OperatorPrincipal.Root, "acme", "pro", CancellationToken.None);

        Assert.Equal(20_000_000, (await service.CapForAsync(Label.Parse("acme:agent"), CancellationToken.None)).CapMicros);
    }

    private static CapPolicy Policy(decimal plan = 100m, decimal multiplier = 1m, decimal defaultMultiplier = 0.5m) => new(
        new Dictionary<string, decimal>(StringComparer.Ordinal) { ["pro"] = plan },
        new Dictionary<string, decimal>(StringComparer.Ordinal) { ["agent"] = multiplier },
        defaultMultiplier,
        MinimumUsd: 1m,
        DefaultPlan: "pro");

    private sealed class PolicyStore : ICapPolicyStore
    {
        public CapPolicy? Policy { get; private set; }

        public Dictionary<string, string> Plans { get; } = new(StringComparer.Ordinal);

        public Task<CapPolicy?> GetPolicyAsync(CancellationToken cancellationToken) => Task.FromResult(Policy);

        public Task PutPolicyAsync(CapPolicy policy, CancellationToken cancellationToken)
        {
            Policy = policy;
            return Task.CompletedTask;
        }

        public Task<string?> GetPlanAsync(string tenant, CancellationToken cancellationToken) =>
            Task.FromResult(Plans.TryGetValue(tenant, out string? plan) ? plan : null);

        public Task PutPlanAsync(string tenant, string plan, CancellationToken cancellationToken)
        {
            Plans[tenant] = plan;
            return Task.CompletedTask;
        }
    }
}
