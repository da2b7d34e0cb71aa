using Keybrake.Domain.Common;
using Keybrake.Domain.Labels;
using Keybrake.Domain.Operators;

namespace Keybrake.Domain.Caps;

/// <summary>Sets and lists budgets on label prefixes. Tenant tokens manage only prefixes inside their tenant.</summary>
public sealed class BudgetService(IBudgetStore store, TimeProvider time)
{
    /// <summary>The path segment that names the platform-wide budget (the empty prefix).</summary>
    public const string PlatformPrefix = "*";

    /// <summary>Creates or changes the budget on a prefix; returns it before (null: new) and after.</summary>
    public async Task<(Budget? Before, Budget After)> PutAsync(
        OperatorPrincipal caller, string routePrefix, decimal? dailyUsd, decimal? monthlyUsd, IReadOnlyList<decimal>? thresholds,
        CancellationToken cancellationToken)
    {
        string prefix = ParsePrefix(caller, routePrefix);
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

        Budget? before = await store.GetAsync(prefix, cancellationToken);
        EnsureMayChange(caller, before);
        var budget = new Budget(prefix, daily, monthly, levels.Distinct().Order().ToList(), time.GetUtcNow())
        {
            // The owner is whoever created it; root changing a tenant's budget does not take it away.
            OwnerTenant = before is null ? caller.Tenant : before.OwnerTenant,
            UpdatedBy = caller.TokenId,
            Version = before?.Version,
        };
        if (!await store.PutAsync(budget, cancellationToken))
        {
            throw Changed(prefix);
        }

        return (before, budget with { Version = null });
    }

    /// <summary>Deletes the budget on a prefix (same ownership rule as changing it); returns what was deleted.</summary>
    public async Task<Budget> DeleteAsync(OperatorPrincipal caller, string routePrefix, CancellationToken cancellationToken)
    {
        string prefix = ParsePrefix(caller, routePrefix);
        Budget budget = await store.GetAsync(prefix, cancellationToken) ?? throw KeybrakeException.NotFound($"Budget '{routePrefix}'");
        EnsureMayChange(caller, budget);
        return await store.DeleteAsync(budget, cancellationToken) ? budget : throw Changed(prefix);
    }

    private static string ParsePrefix(OperatorPrincipal caller, string routePrefix)
    {
        string prefix = routePrefix == PlatformPrefix ? string.Empty : routePrefix;
        Label.ValidatePrefix(prefix);

        // The ':' matters: without it a token of tenant "acme" could set budgets on "acme2:".
        if (caller.IsRoot is false && !prefix.StartsWith(caller.Tenant + ":", StringComparison.Ordinal))
        {
            throw KeybrakeException.Forbidden($"This token may set budgets only on prefixes starting with '{caller.Tenant}:'.");
        }

        return prefix;
    }

    /// <summary>Root may change any budget; a tenant token only those its tenant created (root's are read-only to it).</summary>
    private static void EnsureMayChange(OperatorPrincipal caller, Budget? existing)
    {
        if (existing is not null && !caller.IsRoot && existing.OwnerTenant != caller.Tenant)
        {
            throw KeybrakeException.Forbidden($"The budget on '{existing.Prefix}' was set by the root operator and is read-only to tenant tokens.");
        }
    }

    private static KeybrakeException Changed(string prefix) =>
        new(ErrorKind.Conflict, "conflict", $"The budget on '{prefix}' was changed by another request meanwhile; read it and retry.");

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
