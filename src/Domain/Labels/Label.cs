using Keybrake.Domain.Common;

namespace Keybrake.Domain.Labels;

/// <summary>
/// A vault key's label: <c>{tenant}:{agentType}:{feature}:{runId}</c>. Only the tenant is required.
/// </summary>
/// <remarks>
/// The tenant becomes a Table Storage partition key and part of Key Vault secret names
/// (<c>{secret}--{tenant}</c>), whose alphabet is letters, digits and '-' and case-insensitive.
/// So a tenant is lowercase letters, digits and '-', starting with a letter or digit, at most 63 characters.
/// The rest of the label is printable ASCII without '/', '\', '#' and '?', so that a label prefix can
/// always travel in a URL path segment and never needs encoding in a table key.
/// </remarks>
public sealed record Label(string Value, string Tenant, string? AgentType, string? Feature, string? RunId)
{
    public const int MaxLength = 120;
    public const int MaxTenantLength = 63;

    public static Label Parse(string? value, string field = "label")
    {
        string? error = Validate(value, requireTenant: true);
        if (error is not null)
        {
            throw KeybrakeException.Invalid(field, error);
        }

        LabelLevels levels = LabelLevels.Of(value!);
        return new Label(value!, levels.Tenant, levels.AgentType, levels.Feature, levels.RunId);
    }

    /// <summary>Checks a label prefix used in queries, revocations and budgets; an empty prefix means everything.</summary>
    public static void ValidatePrefix(string? prefix, string field = "label_prefix")
    {
        if (string.IsNullOrEmpty(prefix))
        {
            return;
        }

        string? error = Validate(prefix, requireTenant: false);
        if (error is not null)
        {
            throw KeybrakeException.Invalid(field, error);
        }
    }

    /// <summary>The tenant a prefix is confined to, when it names a whole tenant (<c>acme:</c> or longer).</summary>
    public static string? TenantOfPrefix(string? prefix)
    {
        if (string.IsNullOrEmpty(prefix))
        {
            return null;
        }

        int colon = prefix.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? null : prefix[..colon];
    }

    public static bool IsValidTenant(string? tenant) => TenantError(tenant) is null;

    private static string? Validate(string? value, bool requireTenant)
    {
        if (value is null)
        {
            return "is required.";
        }

        if (value.Length > MaxLength)
        {
            return $"must be at most {MaxLength} characters (got {value.Length}).";
        }

        foreach (char c in value)
        {
            if (c < 0x20 || c > 0x7E)
            {
                return "must be printable ASCII without control characters.";
            }

            if (c is '/' or '\\' or '#' or '?')
            {
                return $"must not contain '{c}'.";
            }
        }

        int colon = value.IndexOf(':', StringComparison.Ordinal);
        string tenant = colon < 0 ? value : value[..colon];
        if (!requireTenant && colon < 0)
        {
            // A prefix like "ac" may stop inside a tenant; it only has to be a possible tenant start.
            return tenant.Length == 0 || TenantPrefixError(tenant) is null ? null : TenantPrefixError(tenant);
        }

        return TenantError(tenant);
    }

    private static string? TenantError(string? tenant)
    {
        if (string.IsNullOrEmpty(tenant))
        {
            return "the tenant (the part before the first ':') is required and must not be empty.";
        }

        if (tenant.Length > MaxTenantLength)
        {
            return $"the tenant must be at most {MaxTenantLength} characters.";
        }

        return TenantPrefixError(tenant);
    }

    private static string? TenantPrefixError(string tenant)
    {
        if (tenant[0] == '-')
        {
            return "the tenant must start with a lowercase letter or a digit.";
        }

        foreach (char c in tenant)
        {
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            {
                return "the tenant may contain only lowercase letters, digits and '-'.";
            }
        }

        return null;
    }
}
