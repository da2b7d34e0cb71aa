using System.Globalization;
using Keybrake.Domain.Activity;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Caps;
using Keybrake.Domain.Common;

namespace Keybrake.Domain.Alerts;

/// <summary>
/// Budget threshold alerts: each threshold of each budget fires once per period (UTC day or month). The alert
/// id is prefix + period + threshold, so the timer, the proxy and any number of instances record it once.
/// </summary>
public sealed class BudgetAlerts(IBudgetStore budgets, IReservationLedger audit, IAlertStore alerts, IActivityIndex activity, TimeProvider time)
{
    /// <summary>
    /// The timer's sweep: the counters for the current day and month against the thresholds of every budget whose
    /// counters can have moved or whose thresholds changed: cross-tenant budgets, budgets of tenants active today or
    /// yesterday (calls, and the reconciler's settlements of them), of tenants with a day marked dirty (a late change),
    /// and budgets set in the last 24 hours. A tenant with none of these has counters no call has moved: it is skipped.
    /// </summary>
    public async Task<int> CheckAllAsync(CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        DateOnly today = DateOnly.FromDateTime(now.UtcDateTime);
        var moved = new HashSet<string>(
            (await activity.ActiveAsync(today.AddDays(-1), today, cancellationToken)).Select(a => a.Tenant)
                .Concat((await activity.DirtyAsync(cancellationToken)).Select(m => m.TenantDay.Tenant)),
            StringComparer.Ordinal);
        int fired = 0;
        foreach (Budget budget in await budgets.ListAsync(null, cancellationToken))
        {
            if (budget.AlertThresholds.Count == 0 || (budget.Scope != "*" && !moved.Contains(budget.Scope) && budget.UpdatedAt < now.AddDays(-1)))
            {
                continue;
            }

            foreach (CapCounter counter in Counters(budget, now))
            {
                long used = await audit.UsedAsync(counter, cancellationToken);
                fired += await FireReachedAsync(budget, counter, 0, used, now, cancellationToken);
            }
        }

        return fired;
    }

    /// <summary>
    /// After the proxy reserved <paramref name="amount"/>: fires the thresholds this reservation crossed, from the
    /// counter values the reservation itself wrote (no extra reads).
    /// </summary>
    public async Task<int> OnReservedAsync(IReadOnlyList<(CapCounter Counter, long Used)> reserved, long amount, DateTimeOffset at, CancellationToken cancellationToken)
    {
        int fired = 0;
        foreach ((CapCounter counter, long used) in reserved)
        {
            if (counter.Budget is { AlertThresholds.Count: > 0 } budget)
            {
                fired += await FireReachedAsync(budget, counter, used - amount, used, at, cancellationToken);
            }
        }

        return fired;
    }

    private static IEnumerable<CapCounter> Counters(Budget budget, DateTimeOffset now)
    {
        if (budget.DailyMicros is not null)
        {
            yield return CapPlanner.DailyBudgetCounter(budget, now);
        }

        if (budget.MonthlyMicros is not null)
        {
            yield return CapPlanner.MonthlyBudgetCounter(budget, now);
        }
    }

    /// <summary>Records an alert for every threshold in (before, after] of the period containing <paramref name="now"/>; those already recorded stay as they are.</summary>
    private async Task<int> FireReachedAsync(Budget budget, CapCounter counter, long before, long after, DateTimeOffset now, CancellationToken cancellationToken)
    {
        int fired = 0;
        string period = counter.Monthly
            ? now.UtcDateTime.ToString("yyyy-MM", CultureInfo.InvariantCulture)
            : now.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        foreach (decimal threshold in budget.AlertThresholds)
        {
            long at = (long)decimal.Ceiling(threshold * counter.LimitMicros);
            if (after < at || before >= at)
            {
                continue;
            }

            string prefix = budget.Prefix.Length == 0 ? "*" : budget.Prefix;
            string level = threshold.ToString("0.######", CultureInfo.InvariantCulture);
            var alert = new Alert(
                $"budget|{prefix}|{period}|{level}",
                budget.Scope,
                Alert.BudgetThreshold,
                prefix,
                $"Spend under '{prefix}' reached {threshold:P0} of its {(counter.Monthly ? "monthly" : "daily")} budget for {period}: {Usd.Format(after)} of {Usd.Format(counter.LimitMicros)} USD.",
                now)
            {
                Details = new Dictionary<string, object?>
                {
                    ["prefix"] = prefix,
                    ["period"] = period,
                    ["period_kind"] = counter.Monthly ? "month" : "day",
                    ["threshold"] = threshold,
                    ["spent_usd"] = Usd.FromMicros(after),
                    ["budget_usd"] = Usd.FromMicros(counter.LimitMicros),
                },
            };
            if (await alerts.RecordAsync(alert, cancellationToken))
            {
                fired++;
            }
        }

        return fired;
    }
}
