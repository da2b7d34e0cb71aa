using Keybrake.Domain.Common;
using Keybrake.Domain.Labels;
using Keybrake.Domain.Operators;

namespace Keybrake.Domain.Caps;

/// <summary>Sets and lists budgets on label prefixes. Tenant tokens manage only prefixes inside their tenant.</summary>
public sealed class BudgetService(IBudgetStore store, TimeProvider time)
{
    /// <summary>The path segment that names the platform-wide budget (the empty prefix).</summary>
    public const string PlatformPrefix = "*";

    public async Task<Budget> PutAsync(
        OperatorPrincipal caller, string routePrefix, decimal? dailyUsd, decimal? monthlyUsd, IReadOnlyList<decimal>? thresholds,
        CancellationToken cancellationToken)
    {
        string prefix = routePrefix == PlatformPrefix ? string.Empty : routePrefix;
        Label.ValidatePrefix(prefix);
        if (caller.IsRoot is false && !prefix.StartsWith(caller.Tenant + ":", StringComparison.Ordinal))
        {
            throw KeybrakeException.Forbidden($"This token may set budgets only on prefixes starting with '{caller.Tenant}:'.");
        }

        if (dailyUsd is null && monthlyUsd is null)
        {
            throw KeybrakeException.Invalid("daily_usd", "set daily_usd, monthly_usd or both.");
        }

        long? daily = Amount("daily_usd", dailyUsd);
        long? monthly = Amount("monthly_usd", monthlyUsd);
        List<decimal> levels = (thresholds ?? []).ToList();
        if (levels.Count > 10 || levels.Any(t => t <= 0 || t > 10))
        {
            throw KeybrakeException.Invalid("alert_thresholds", "at most 10 fractions of the budget, each above 0 and at most 10 (e.g. [0.5, 0.8, 1.0]).");
        }

        var budget = new Budget(prefix, daily, monthly, levels.Distinct().Order().ToList(), time.GetUtcNow());
        await store.PutAsync(budget, cancellationToken);
        return budget;
    }

    public Task<IReadOnlyList<Budget>> ListAsync(OperatorPrincipal caller, CancellationToken cancellationToken) =>
        store.ListAsync(caller.Tenant, cancellationToken);

    private static long? Amount(string field, decimal? usd)
    {
        if (usd is null)
        {
            return null;
        }

        if (usd <= 0)
        {
            throw KeybrakeException.Invalid(field, "must be greater than 0.");
        }

        return Usd.TryToMicros(usd.Value, out long micros) && micros < long.MaxValue / 4
            ? micros
            : throw KeybrakeException.Invalid(field, "is out of range or has more than 6 decimal places.");
    }
}
