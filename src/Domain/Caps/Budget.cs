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

    /// <summary>
    /// Who owns it: the tenant whose token created it, or null when root did. Set at creation and kept: a
    /// tenant token may change or delete only its own tenant's budgets; root's are read-only to it.
    /// </summary>
    public string? OwnerTenant { get; init; }

    /// <summary>The operator (<c>root</c> or a token id) that last set it.</summary>
    public string? UpdatedBy { get; init; }

    /// <summary>The stored version (ETag) this value was read at; null for a budget not yet stored.</summary>
    public string? Version { get; init; }
}

public interface IBudgetStore
{
    /// <summary>
    /// Creates the budget (when <see cref="Budget.Version"/> is null) or replaces the version it was read at.
    /// Returns false when another writer got there first (it exists already, or changed since it was read).
    /// </summary>
    Task<bool> PutAsync(Budget budget, CancellationToken cancellationToken);

    /// <summary>The budget on exactly this prefix, or null.</summary>
    Task<Budget?> GetAsync(string prefix, CancellationToken cancellationToken);

    /// <summary>Deletes the version it was read at; false when it changed or went meanwhile.</summary>
    Task<bool> DeleteAsync(Budget budget, CancellationToken cancellationToken);

    /// <summary>Budgets of one scope (a tenant, or "*" for those spanning tenants); null lists every budget.</summary>
    Task<IReadOnlyList<Budget>> ListAsync(string? scope, CancellationToken cancellationToken);
}
