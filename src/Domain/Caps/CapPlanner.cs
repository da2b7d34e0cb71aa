using System.Globalization;
using Keybrake.Domain.Common;
using Keybrake.Domain.Keys;

namespace Keybrake.Domain.Caps;

/// <summary>
/// Which counters a call reserves against: its key's daily cap and every budget whose prefix covers its
/// label. Budgets are cached briefly so a warm call reads none; a budget change applies within that time.
/// </summary>
public sealed class CapPlanner(IBudgetStore budgets, TimeProvider time, TimeSpan budgetCacheLifetime)
{
    // One load per scope however many calls arrive at once; a failed load is not kept.
    private readonly SingleFlightCache<string, IReadOnlyList<Budget>> _budgets = new(
        scope => budgets.ListAsync(scope, CancellationToken.None),
        time,
        new SingleFlightCacheOptions { Lifetime = budgetCacheLifetime },
        StringComparer.Ordinal);

    public static string DayPartition(string scope, DateTimeOffset at) => DayPartitions.Of(scope, at);

    public static string MonthPartition(string scope, DateTimeOffset at) =>
        scope + "|m|" + at.UtcDateTime.ToString("yyyy-MM", CultureInfo.InvariantCulture);

    public static CapCounter KeyCounter(VaultKey key, DateTimeOffset at) =>
        new(DayPartition(key.Tenant, at), "~cap|key|" + key.Id, key.DailyCapMicros, "the daily cap of this key");

    public static CapCounter DailyBudgetCounter(Budget budget, DateTimeOffset at) =>
        new(DayPartition(budget.Scope, at), "~cap|budget|" + budget.Prefix + "|d", budget.DailyMicros ?? 0, $"the daily budget of '{budget.Prefix}'", budget);

    public static CapCounter MonthlyBudgetCounter(Budget budget, DateTimeOffset at) =>
        new(MonthPartition(budget.Scope, at), "~cap|budget|" + budget.Prefix + "|m", budget.MonthlyMicros ?? 0, $"the monthly budget of '{budget.Prefix}'", budget, Monthly: true);

    public async Task<IReadOnlyList<CapCounter>> CountersAsync(VaultKey key, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var counters = new List<CapCounter> { KeyCounter(key, at) };
        foreach (string scope in new[] { key.Tenant, "*" })
        {
            foreach (Budget budget in await _budgets.GetAsync(scope, cancellationToken))
            {
                if (!budget.Covers(key.Label))
                {
                    continue;
                }

                if (budget.DailyMicros is not null)
                {
                    counters.Add(DailyBudgetCounter(budget, at));
                }

                if (budget.MonthlyMicros is not null)
                {
                    counters.Add(MonthlyBudgetCounter(budget, at));
                }
            }
        }

        return counters;
    }
}
