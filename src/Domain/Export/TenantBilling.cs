using System.Buffers;
using Keybrake.Domain.Common;
using Keybrake.Domain.Labels;
using Keybrake.Domain.Operators;

namespace Keybrake.Domain.Export;

/// <summary>Who pays for a tenant's spend in each billing meter; a null id leaves the tenant out of that meter's export.</summary>
public sealed record TenantBilling(string Tenant, string? StripeCustomerId, string? LagoExternalSubscriptionId, string? OpenMeterSubject)
{
    /// <summary>Longest id accepted; Stripe's customer ids and Lago's external ids fit well within it.</summary>
    public const int MaxIdLength = 255;

    private static readonly SearchValues<char> AsciiAlphanumerics =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");

    public static TenantBilling None(string tenant) => new(tenant, null, null, null);

    /// <summary>Throws a validation error naming the first bad field.</summary>
    public void Validate()
    {
        if (!Label.IsValidTenant(Tenant))
        {
            throw KeybrakeException.Invalid("tenant", "must be lowercase letters, digits and '-', 1 to 63 characters, not starting with '-'.");
        }

        if (StripeCustomerId is not null
            && (!StripeCustomerId.StartsWith("cus_", StringComparison.Ordinal) || StripeCustomerId.Length is <= 4 or > MaxIdLength
                || StripeCustomerId.AsSpan(4).ContainsAnyExcept(AsciiAlphanumerics)))
        {
            throw KeybrakeException.Invalid("stripe_customer_id", "must be a Stripe customer id: 'cus_' followed by letters and digits.");
        }

        CheckFreeForm(LagoExternalSubscriptionId, "lago_external_subscription_id");
        CheckFreeForm(OpenMeterSubject, "openmeter_subject");
    }

    private static void CheckFreeForm(string? value, string field)
    {
        if (value is null)
        {
            return;
        }

        if (value.Length is 0 or > MaxIdLength)
        {
            throw KeybrakeException.Invalid(field, $"must be 1 to {MaxIdLength} characters (send null to leave the tenant out of this meter).");
        }

        if (value.Any(c => c is < (char)0x21 or > (char)0x7E))
        {
            throw KeybrakeException.Invalid(field, "must be printable ASCII without spaces or control characters.");
        }
    }
}

public interface ITenantBillingStore
{
    Task<TenantBilling?> GetAsync(string tenant, CancellationToken cancellationToken);

    /// <summary>Replaces the tenant's mapping.</summary>
    Task PutAsync(TenantBilling billing, CancellationToken cancellationToken);
}

/// <summary>Maps tenants to billing customers (root sets them; a tenant token may read its own).</summary>
public sealed class TenantBillingService(ITenantBillingStore store)
{
    public async Task<TenantBilling> PutAsync(OperatorPrincipal caller, TenantBilling billing, CancellationToken cancellationToken)
    {
        caller.EnsureRoot();
        billing.Validate();
        await store.PutAsync(billing, cancellationToken);
        return billing;
    }

    public async Task<TenantBilling> GetAsync(OperatorPrincipal caller, string tenant, CancellationToken cancellationToken)
    {
        if (!Label.IsValidTenant(tenant))
        {
            throw KeybrakeException.Invalid("tenant", "must be lowercase letters, digits and '-', 1 to 63 characters, not starting with '-'.");
        }

        caller.EnsureTenant(tenant);
        return await store.GetAsync(tenant, cancellationToken) ?? TenantBilling.None(tenant);
    }
}
