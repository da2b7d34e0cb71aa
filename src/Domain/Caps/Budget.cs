using Keybrake.Domain.Labels;

namespace Keybrake.Domain.Caps;

/// <summary>
/// A hard cap on every label starting with <see cref="Prefix"/> (plain string prefix; empty = the whole
/// platform), per UTC day and/or month, with alert thresholds as fractions of those amounts.
/// </summary>
public sealed record Budget(string Prefix, long? DailyMicros, long? MonthlyMicros, IReadOnlyList<decimal> AlertThresholds, DateTimeOffset UpdatedAt)
{
    /// <summary>The partition scope: the tenant when the prefix names a whole tenant, else "*" (spans tenants).</summary>
    public string Scope => Label.TenantOfPrefix(Prefix) ?? "*";

    public bool Covers(string label) => label.StartsWith(Prefix, StringComparison.Ordinal);
}

public interface IBudgetStore
{
    Task PutAsync(Budget budget, CancellationToken cancellationToken);

    /// <summary>Budgets of one scope (a tenant, or "*" for those spanning tenants); null lists every budget.</summary>
    Task<IReadOnlyList<Budget>> ListAsync(string? scope, CancellationToken cancellationToken);
}
