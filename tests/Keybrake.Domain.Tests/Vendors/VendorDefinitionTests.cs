using Keybrake.Domain.Pricing;
using Keybrake.Domain.Vendors;

namespace Keybrake.Domain.Tests.Vendors;

/// <summary>What every vendor definition must say the same way: docs/design.md §3, §9 and §10, checked for each registered vendor.</summary>
public sealed class VendorDefinitionTests
{
    private static readonly PricingOptions Pricing = TestPricing.Options();

    private static readonly VendorRegistry Registry = new([new StripeVendor(new Currencies(Pricing)), new TwilioVendor(Pricing), new ResendVendor(Pricing)]);

    public static TheoryData<string> Vendors => ["stripe", "twilio", "resend"];

    [Fact]
    public void TheRegistry_FindsEachVendorByItsRouteName_Exactly()
    {
        Assert.Equal(["resend", "stripe", "twilio"], Registry.Names.Order(StringComparer.Ordinal));
        Assert.Equal("twilio", Registry.Find("twilio")!.Name);
        Assert.Null(Registry.Find("Stripe")); // route names are lowercase; another spelling is another (unknown) vendor
        Assert.Null(Registry.Find("openai"));
        Assert.Null(Registry.Find(null));
    }

    [Fact]
    public void TwoDefinitionsWithOneName_AreRefused() =>
        Assert.Throws<ArgumentException>(() => new VendorRegistry([new ResendVendor(Pricing), new ResendVendor(Pricing)]));

    [Theory]
    [InlineData("stripe", "https://api.stripe.com/")]
    [InlineData("twilio", "https://api.twilio.com/")]
    [InlineData("resend", "https://api.resend.com/")]
    public void TheDefaultBaseUrl_IsTheRealApi(string vendor, string url) => Assert.Equal(new Uri(url), Registry.Find(vendor)!.DefaultBaseUrl);

    [Theory]
    [InlineData("stripe", new[] { "stripe-secret-key" }, new[] { "stripe-secret-key" })]
    [InlineData("twilio", new[] { "twilio-account-sid", "twilio-auth-token" }, new[] { "twilio-auth-token" })] // a SID is in every answer by design
    [InlineData("resend", new[] { "resend-api-key" }, new[] { "resend-api-key" })]
    public void SecretNames_AreTheConfiguredOnes_AndTheCredentialsAmongThemAreScrubbed(string vendor, string[] secrets, string[] credentials)
    {
        VendorDefinition definition = Registry.Find(vendor)!;

        Assert.Equal(secrets, definition.SecretNames);
        Assert.Equal(credentials, definition.CredentialSecretNames);
    }

    [Theory]
    [MemberData(nameof(Vendors))]
    public void ClientCredentialsAndProxyHeaders_AreNeverForwarded(string vendor)
    {
        IReadOnlySet<string> forwarded = Registry.Find(vendor)!.ForwardedRequestHeaders;

        // docs/design.md §9: the proxy sets credentials itself; cookies, X-Forwarded-*, hop-by-hop and the Functions key stay behind.
        foreach (string header in new[] { "Authorization", "authorization", "Cookie", "X-Forwarded-For", "X-Forwarded-Host", "Connection", "Transfer-Encoding", "Keep-Alive", "Upgrade", "x-functions-key", "Host", "Content-Encoding", "Accept-Encoding", "X-HTTP-Method-Override" })
        {
            Assert.False(forwarded.Contains(header), $"{vendor} forwards {header}");
        }

        Assert.Contains("Content-Type", forwarded);
        Assert.Contains("content-type", forwarded); // header names are case-insensitive
    }

    [Fact]
    public void StripesIdempotencyVersionAndAccountHeaders_AreForwarded_ResendsIdempotencyKeyToo()
    {
        IReadOnlySet<string> stripe = Registry.Find("stripe")!.ForwardedRequestHeaders;

        Assert.All(new[] { "Idempotency-Key", "Stripe-Version", "Stripe-Account" }, h => Assert.Contains(h, stripe));
        Assert.Contains("Idempotency-Key", Registry.Find("resend")!.ForwardedRequestHeaders);
        Assert.DoesNotContain("Idempotency-Key", Registry.Find("twilio")!.ForwardedRequestHeaders); // Twilio has none (docs/vendors.md)
    }

    [Theory]
    [InlineData("stripe", "Request-Id")]
    [InlineData("twilio", "Twilio-Request-Id")]
    public void TheVendorsRequestIdHeader_IsRead(string vendor, string header) => Assert.Equal(header, Registry.Find(vendor)!.RequestIdHeader);
}
