namespace Keybrake.Sandbox.Tests;

public sealed class FakeVendorsTests
{
    [Fact]
    public async Task Starts_all_three_and_exposes_the_proxy_configuration()
    {
        await using var vendors = await FakeVendors.StartAsync();

        var config = vendors.ProxyConfiguration();
        Assert.Equal(vendors.Stripe.BaseUrl.ToString().TrimEnd('/'), config["Vendors:stripe:BaseUrl"]);
        Assert.Equal(vendors.Twilio.BaseUrl.ToString().TrimEnd('/'), config["Vendors:twilio:BaseUrl"]);
        Assert.Equal(vendors.Resend.BaseUrl.ToString().TrimEnd('/'), config["Vendors:resend:BaseUrl"]);
        Assert.Equal(vendors.Stripe.SecretKey, config["Secrets:stripe-secret-key"]);
        Assert.Equal(vendors.Twilio.AccountSid, config["Secrets:twilio-account-sid"]);
        Assert.Equal(vendors.Twilio.AuthToken, config["Secrets:twilio-auth-token"]);
        Assert.Equal(vendors.Resend.ApiKey, config["Secrets:resend-api-key"]);

        Assert.StartsWith("sk_test_fake_", vendors.Stripe.SecretKey, StringComparison.Ordinal);
        Assert.Matches("^AC[0-9a-f]{32}$", vendors.Twilio.AccountSid);
        Assert.StartsWith("re_", vendors.Resend.ApiKey, StringComparison.Ordinal);
        Assert.Equal("127.0.0.1", vendors.Stripe.BaseUrl.Host);
        Assert.EndsWith("/", vendors.Stripe.BaseUrl.ToString(), StringComparison.Ordinal);
        Assert.Equal(5, vendors.All.Select(v => v.BaseUrl.Port).Distinct().Count());

        var lago = vendors.ExportConfiguration("lago");
        Assert.Equal("lago", lago["Export:Target"]);
        Assert.Equal(vendors.Lago.BaseUrl.ToString().TrimEnd('/'), lago["Export:BaseUrl"]);
        Assert.Equal(vendors.Lago.ApiKey, lago["Secrets:lago-api-key"]);
        Assert.Equal(vendors.Stripe.SecretKey, vendors.ExportConfiguration("stripe_meters")["Secrets:stripe-meter-key"]);
        Assert.Equal(vendors.OpenMeter.BaseUrl.ToString().TrimEnd('/'), vendors.ExportConfiguration("openmeter")["Export:BaseUrl"]);
        Assert.Throws<ArgumentOutOfRangeException>(() => vendors.ExportConfiguration("none"));

        using var http = new HttpClient();
        using var response = await http.GetAsync(new Uri(vendors.Resend.BaseUrl, "emails/x"));
        Assert.Single(vendors.Resend.Ledger);
        vendors.Reset();
        Assert.Empty(vendors.Resend.Ledger);
    }

    [Fact]
    public void Stripe_key_mask_never_shows_the_whole_key()
    {
        Assert.Equal("sk_test_************cdef", FakeStripe.MaskKey("sk_test_0123456789abcdef"));
        Assert.Equal("*****", FakeStripe.MaskKey("short"));
    }
}
