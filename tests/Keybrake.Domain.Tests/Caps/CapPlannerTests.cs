using Keybrake.Domain.Caps;
using Keybrake.Domain.Keys;

namespace Keybrake.Domain.Tests.Caps;

/// <summary>
/// Which counters a call reserves against (docs/design.md §5: the key's daily cap and every budget whose prefix
/// matches the label, daily and monthly), partitioned by tenant and UTC date (docs/design.md §6).
/// </summary>
public sealed class CapPlannerTests
{
    private static readonly DateTimeOffset Noon = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("2026-11-30T12:00:00+00:00", "acme|2026-11-30", "acme|m|2026-11")]
    [InlineData("2026-11-30T23:59:59-05:00", "acme|2026-12-01", "acme|m|2026-12")] // already tomorrow in UTC
    [InlineData("2027-01-01T00:30:00+02:00", "acme|2026-12-31", "acme|m|2026-12")] // still last year in UTC
    public void Partitions_AreTheScopeAndTheUtcDayOrMonth(string at, string day, string month)
    {
        DateTimeOffset time = DateTimeOffset.Parse(at, System.Globalization.CultureInfo.InvariantCulture);

        Assert.Equal(day, CapPlanner.DayPartition("acme", time));
        Assert.Equal(month, CapPlanner.MonthPartition("acme", time));
    }

    [Fact]
    public async Task AKeyUnderNoBudget_ReservesAgainstItsDailyCapOnly()
    {
        IReadOnlyList<CapCounter> counters = await Planner().CountersAsync(Key("acme:billing-agent:invoices:run-1", 5_000_000), Noon, CancellationToken.None);

        CapCounter key = Assert.Single(counters);
        Assert.Equal(("acme|2026-11-30", 5_000_000L, (Budget?)null, false), (key.Partition, key.LimitMicros, key.Budget, key.Monthly));
    }

    [Fact]
    public async Task EveryBudgetCoveringTheLabel_AddsItsDailyAndMonthlyCounters()
    {
        Budget tenant = Budget("acme:", daily: 10_000_000, monthly: 100_000_000);
        Budget agent = Budget("acme:billing-agent", daily: 3_000_000);
        Budget run = Budget("acme:billing-agent:invoices:run-1", monthly: 1_000_000);
        Budget platform = Budget("", daily: 500_000_000);
        CapPlanner planner = Planner(tenant, agent, run, platform,
            Budget("acme:notify-agent", daily: 1), // another agent type of the same tenant
            Budget("acme2:", daily: 1), // another tenant whose name starts like this one
            Budget("acme:billing")); // alerts only: no amount, so nothing to reserve against

        IReadOnlyList<CapCounter> counters = await planner.CountersAsync(Key("acme:billing-agent:invoices:run-1", 5_000_000), Noon, CancellationToken.None);

        string[] expected =
        [
            "key 5000000 day acme|2026-11-30",
            "acme: 10000000 day acme|2026-11-30",
            "acme: 100000000 month acme|m|2026-11",
            "acme:billing-agent 3000000 day acme|2026-11-30",
            "acme:billing-agent:invoices:run-1 1000000 month acme|m|2026-11",
            " 500000000 day *|2026-11-30",
        ];
        Assert.Equal(expected.Order(StringComparer.Ordinal), counters.Select(Describe).Order(StringComparer.Ordinal));

        // Each counter is its own row: two counters sharing a row would count one call twice against one limit.
        Assert.Equal(counters.Count, counters.Select(c => (c.Partition, c.Row)).Distinct().Count());
    }

    [Fact]
    public async Task APrefixWithoutItsSeparator_IsAPlainStringPrefix_SpanningTenants()
    {
        // "acme" (no ':') is not confined to one tenant: it covers acme2's labels as well, and lives in the "*" scope.
        Budget loose = Budget("acme", daily: 7_000_000);

        IReadOnlyList<CapCounter> forAcme2 = await Planner(loose).CountersAsync(Key("acme2:notify-agent", 1_000_000), Noon, CancellationToken.None);

        Assert.Equal("*", loose.Scope);
        Assert.Contains(forAcme2, c => c.Budget == loose && c.Partition == "*|2026-11-30" && c.LimitMicros == 7_000_000);
    }

    [Fact]
    public async Task ABudgetChange_IsSeenOnceTheCacheLifetimeIsOver()
    {
        var store = new BudgetStore();
        var planner = new CapPlanner(store, TimeProvider.System, TimeSpan.Zero);
        VaultKey key = Key("acme:x", 1);
        Assert.Single(await planner.CountersAsync(key, Noon, CancellationToken.None));

        store.Budgets.Add(Budget("acme:", daily: 2));

        Assert.Equal(2, (await planner.CountersAsync(key, Noon, CancellationToken.None)).Count);
    }

    [Theory]
    [InlineData("acme:", "acme")]
    [InlineData("acme:billing-agent", "acme")]
    [InlineData("acme", "*")]
    [InlineData("ac", "*")]
    [InlineData("", "*")]
    public void ABudgetsScope_IsItsTenant_OnlyWhenThePrefixNamesAWholeOne(string prefix, string scope) =>
        Assert.Equal(scope, Budget(prefix, daily: 1).Scope);

    [Theory]
    [InlineData("acme:", "acme:billing-agent:x:1", true)]
    [InlineData("acme:", "acme", false)]
    [InlineData("acme:", "acme2:billing-agent", false)]
    [InlineData("acme:billing", "acme:billing-agent", true)] // plain string prefix, as label_prefix everywhere
    [InlineData("acme", "acme2:billing-agent", true)]
    [InlineData("", "zeta:any", true)]
    [InlineData("acme:Billing", "acme:billing-agent", false)] // case-sensitive
    public void ABudgetCovers_EveryLabelStartingWithItsPrefix(string prefix, string label, bool covers) =>
        Assert.Equal(covers, Budget(prefix, daily: 1).Covers(label));

    private static string Describe(CapCounter c) =>
        $"{(c.Budget is null ? "key" : c.Budget.Prefix)} {c.LimitMicros} {(c.Monthly ? "month" : "day")} {c.Partition}";

    private static CapPlanner Planner(params Budget[] budgets)
    {
        var store = new BudgetStore();
        store.Budgets.AddRange(budgets);
        return new CapPlanner(store, TimeProvider.System, TimeSpan.Zero);
    }

    private static Budget Budget(string prefix, long? daily = null, long? monthly = null) => new(prefix, daily, monthly, [0.5m, 1m], Noon);

    private static VaultKey Key(string label, long capMicros) => new()
    {
        Id = "k_1",
        Tenant = label.Split(':')[0],
        Label = label,
        Vendor = "stripe",
        DailyCapMicros = capMicros,
        AllowedEndpoints = ["/**"],
        CreatedAt = Noon.AddHours(-1),
        ExpiresAt = Noon.AddHours(1),
        SecretHash = "x",
    };

    /// <summary>Budgets in memory, listed by scope as the table store lists them.</summary>
    private sealed class BudgetStore : IBudgetStore
    {
        public List<Budget> Budgets { get; } = [];

        public Task<IReadOnlyList<Budget>> ListAsync(string? scope, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<Budget>>([.. Budgets.Where(b => scope is null || b.Scope == scope)]);

        public Task<bool> PutAsync(Budget budget, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<Budget?> GetAsync(string prefix, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<bool> DeleteAsync(Budget budget, CancellationToken cancellationToken) => throw new NotSupportedException();
    }
}
