using Keybrake.Domain.Common;
using System.Text;
using Keybrake.Domain.Keys;
using Keybrake.Domain.Pricing;
using Keybrake.Domain.Proxy;
using Keybrake.Domain.Tests.Vendors;
using Keybrake.Domain.Vendors;

namespace Keybrake.Domain.Tests.Proxy;

/// <summary>
/// docs/design.md §3 steps 1-3, in order: a valid, live key (401); the route's vendor is the key's (403); the method
/// and normalized path on the key's allowlist (403 naming the operation; an empty list allows nothing).
/// </summary>
public sealed class ProxyGateTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;
    private static readonly PricingOptions Pricing = TestPricing.Options();
    private readonly StripeVendor _stripe = new(new Currencies(Pricing));
    private readonly TwilioVendor _twilio = new(Pricing);

    [Fact]
    public async Task AKeyOnItsAllowlist_IsAuthorized_WithTheOperationNamed()
    {
        (VaultKey key, string secret) = Key("stripe", ["POST /v1/payment_intents"]);

        AuthorizedCall call = await Gate(key).AuthorizeAsync(_stripe, "POST", "/v1/payment_intents", "Bearer " + secret, CancellationToken.None);

        Assert.Equal(("payment_intents.create", key.Id), (call.Operation, call.Key.Id));
        Assert.Equal(["v1", "payment_intents"], call.Segments);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer sk_live_123")] // a vendor secret is not a vault key
    [InlineData("Bearer kbk_acme_short_x")]
    public async Task NoWellFormedVaultKey_Is401(string? authorization)
    {
        (VaultKey key, _) = Key("stripe", ["/**"]);

        Assert.Equal((ErrorKind.Unauthorized, "invalid_vault_key"), await DeniedAsync(Gate(key), _stripe, "GET", "/v1/charges", authorization));
    }

    [Fact]
    public async Task AnotherKeysSecretOnThisKeysId_Is401()
    {
        (VaultKey key, string secret) = Key("stripe", ["/**"]);
        string forged = secret[..^1] + (secret[^1] == 'a' ? 'b' : 'a');

        Assert.Equal((ErrorKind.Unauthorized, "invalid_vault_key"), await DeniedAsync(Gate(key), _stripe, "GET", "/v1/charges", "Bearer " + forged));
    }

    [Fact]
    public async Task ARevokedOrExpiredKey_Is401()
    {
        (VaultKey key, string secret) = Key("stripe", ["/**"]);

        Assert.Equal((ErrorKind.Unauthorized, "vault_key_revoked"), await DeniedAsync(Gate(key with { RevokedAt = Now.AddMinutes(-1) }), _stripe, "GET", "/v1/charges", "Bearer " + secret));
        Assert.Equal((ErrorKind.Unauthorized, "vault_key_expired"), await DeniedAsync(Gate(key with { ExpiresAt = Now.AddMinutes(-1) }), _stripe, "GET", "/v1/charges", "Bearer " + secret));
    }

    [Fact]
    public async Task AKeyForAnotherVendor_Is403_BeforeItsPathIsRead()
    {
        (VaultKey key, string secret) = Key("resend", ["/**"]);

        // Even a path that would be refused as ambiguous is a vendor mismatch first (step 2 before step 3).
        Assert.Equal((ErrorKind.Forbidden, "vendor_mismatch"), await DeniedAsync(Gate(key), _stripe, "GET", "/v1/../admin", "Bearer " + secret));
    }

    [Fact]
    public async Task AnAmbiguousPath_Is400()
    {
        (VaultKey key, string secret) = Key("stripe", ["/**"]);

        Assert.Equal((ErrorKind.Validation, "invalid_path"), await DeniedAsync(Gate(key), _stripe, "GET", "/v1/a%2Fb", "Bearer " + secret));
    }

    [Theory]
    [InlineData("GET", "/v1/payment_intents")] // the method is part of the pattern
    [InlineData("POST", "/v1/payment_intents/pi_1/confirm")]
    public async Task ACallOffTheAllowlist_Is403(string method, string path)
    {
        (VaultKey key, string secret) = Key("stripe", ["POST /v1/payment_intents"]);

        Assert.Equal((ErrorKind.Forbidden, "endpoint_not_allowed"), await DeniedAsync(Gate(key), _stripe, method, path, "Bearer " + secret));
    }

    [Fact]
    public async Task AnEmptyAllowlist_AllowsNothing()
    {
        (VaultKey key, string secret) = Key("stripe", []);

        Assert.Equal((ErrorKind.Forbidden, "endpoint_not_allowed"), await DeniedAsync(Gate(key), _stripe, "GET", "/v1/charges", "Bearer " + secret));
    }

    [Theory]
    [InlineData("POST /2010-04-01/Accounts/*/Messages", "/2010-04-01/Accounts/AC1/Messages.json")] // the pattern docs/design.md §3 step 3 quotes, and the SDK's URL
    [InlineData("POST /2010-04-01/Accounts/*/Messages", "/2010-04-01/Accounts/AC1/Messages")]
    [InlineData("POST /2010-04-01/Accounts/*/Messages.json", "/2010-04-01/Accounts/AC1/Messages.json")] // the URL as Twilio's docs print it
    public async Task TwiliosFormatSuffix_IsIgnoredForMatching(string pattern, string path)
    {
        (VaultKey key, string secret) = Key("twilio", [pattern]);

        AuthorizedCall call = await Gate(key).AuthorizeAsync(_twilio, "POST", path, Basic("AC1", secret), CancellationToken.None);

        Assert.Equal("messages.create", call.Operation);
    }

    [Fact]
    public async Task TwiliosPatternForMessages_DoesNotAllowCalls()
    {
        (VaultKey key, string secret) = Key("twilio", ["POST /2010-04-01/Accounts/*/Messages.json"]);

        Assert.Equal((ErrorKind.Forbidden, "endpoint_not_allowed"), await DeniedAsync(Gate(key), _twilio, "POST", "/2010-04-01/Accounts/AC1/Calls.json", Basic("AC1", secret)));
    }

    private static string Basic(string user, string password) => "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password));

    private static async Task<(ErrorKind Kind, string Code)> DeniedAsync(ProxyGate gate, VendorDefinition vendor, string method, string path, string? authorization)
    {
        KeybrakeException denied = await Assert.ThrowsAsync<KeybrakeException>(() => gate.AuthorizeAsync(vendor, method, path, authorization, CancellationToken.None));
        return (denied.Kind, denied.Code);
    }

    private static (VaultKey Key, string Secret) Key(string vendor, IReadOnlyList<string> endpoints)
    {
        (string id, string secret) = VaultKeySecret.Create("acme");
        VaultKey key = new()
        {
            Id = id,
            Tenant = "acme",
            Label = "acme:billing-agent",
            Vendor = vendor,
            DailyCapMicros = 5_000_000,
            AllowedEndpoints = endpoints,
            CreatedAt = Now.AddMinutes(-5),
            ExpiresAt = Now.AddHours(1),
            SecretHash = VaultKeySecret.Hash(secret),
        };
        return (key, secret);
    }

    private static ProxyGate Gate(VaultKey key) => new(new VaultKeyCache(new OneKeyStore(key), TimeProvider.System, TimeSpan.Zero), TimeProvider.System);

    private sealed class OneKeyStore(VaultKey stored) : IVaultKeyStore
    {
        public Task<VaultKey?> GetAsync(string id, CancellationToken cancellationToken) => Task.FromResult(id == stored.Id ? stored : null);

        public Task CreateAsync(VaultKey key, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<KeyPage> ListAsync(KeyQuery query, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<bool> RevokeAsync(string id, DateTimeOffset at, string revokedBy, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<IReadOnlyList<string>> TenantsAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<int> RevokeMatchingAsync(KeyQuery query, DateTimeOffset at, string revokedBy, CancellationToken cancellationToken) => throw new NotSupportedException();
    }
}
