namespace Keybrake.Domain.Secrets;

/// <summary>Well-known secret names (Key Vault secret names, or <c>Secrets__{name}</c> settings locally).</summary>
public static class SecretNames
{
    public const string RootToken = "keybrake-root-token";
    public const string StripeSecretKey = "stripe-secret-key";
    public const string TwilioAccountSid = "twilio-account-sid";
    public const string TwilioAuthToken = "twilio-auth-token";
    public const string ResendApiKey = "resend-api-key";

    /// <summary>Signs alert webhooks (HMAC-SHA256); receivers verify with the same value.</summary>
    public const string AlertsWebhookSecret = "alerts-webhook-secret";

    /// <summary>The chargeback export's meter keys: Keybrake's own billing accounts, never a tenant's.</summary>
    public const string StripeMeterKey = "stripe-meter-key";
    public const string LagoApiKey = "lago-api-key";
    public const string OpenMeterApiKey = "openmeter-api-key";

    /// <summary>A tenant's own vendor account: <c>{name}--{tenant}</c> wins over <c>{name}</c>.</summary>
    public static string ForTenant(string name, string tenant) => name + "--" + tenant;
}

/// <summary>Reads secrets; implementations cache so that the proxy's hot path never waits on Key Vault.</summary>
public interface ISecretProvider
{
    /// <summary>The tenant's override when it exists, else the shared secret, else null.</summary>
    ValueTask<string?> GetAsync(string name, string? tenant, CancellationToken cancellationToken);

    /// <summary>Forgets cached values so the next read fetches afresh (after a vendor 401, say).</summary>
    void Invalidate(string name, string? tenant);
}
