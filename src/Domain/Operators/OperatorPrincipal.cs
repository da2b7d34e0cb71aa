using Keybrake.Domain.Common;

namespace Keybrake.Domain.Operators;

/// <summary>Who is calling the operator API: the root token (all tenants) or a tenant-scoped token.</summary>
public sealed record OperatorPrincipal(string? Tenant, string TokenId)
{
    public static OperatorPrincipal Root { get; } = new(null, "root");

    public bool IsRoot => Tenant is null;

    public bool CanSeeTenant(string tenant) => IsRoot || string.Equals(Tenant, tenant, StringComparison.Ordinal);

    public bool CanSeeLabel(string label) =>
        IsRoot || label == Tenant || label.StartsWith(Tenant + ":", StringComparison.Ordinal);

    public void EnsureRoot()
    {
        if (!IsRoot)
        {
            throw KeybrakeException.Forbidden("Only the root operator token may do this.");
        }
    }

    public void EnsureTenant(string tenant)
    {
        if (!CanSeeTenant(tenant))
        {
            throw KeybrakeException.Forbidden($"This token is scoped to tenant '{Tenant}' and cannot act on tenant '{tenant}'.");
        }
    }

    /// <summary>
    /// Confines a label prefix to what the caller may see. A tenant token's prefix must name its own
    /// tenant (or be empty, meaning its whole tenant); anything else is refused rather than silently narrowed.
    /// </summary>
    public string ScopePrefix(string? prefix)
    {
        prefix ??= string.Empty;
        if (IsRoot)
        {
            return prefix;
        }

        if (prefix.Length == 0 || prefix == Tenant)
        {
            return Tenant + ":";
        }

        if (prefix.StartsWith(Tenant + ":", StringComparison.Ordinal))
        {
            return prefix;
        }

        throw KeybrakeException.Forbidden($"This token is scoped to tenant '{Tenant}'; label_prefix must start with '{Tenant}:'.");
    }
}
