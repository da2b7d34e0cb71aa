using System.Net;
using System.Text.Json;
using Keybrake.Tests.Support;
using Stripe;
using Twilio.Clients;
using Twilio.Exceptions;
using Twilio.Rest.Api.V2010.Account;
using Twilio.Types;

namespace Keybrake.Tests.Sdk;

/// <summary>
/// The .NET SDKs and plain curl exactly as docs/agents.md shows them (the snippet regions below are copied
/// verbatim into the page; DocsSnippetTests holds them equal), against the fake vendors through Keybrake.
/// </summary>
public sealed class DotnetAndCurlTests : IAsyncLifetime
{
    private ProxyHost _proxy = null!;

    public async Task InitializeAsync() => _proxy = await ProxyHost.StartAsync();

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    private string KeybrakeUrl => _proxy.Host.BaseAddress.GetLeftPart(UriPartial.Authority);

    [Fact]
    public async Task StripeNet_WithApiBase_Charges_AndACapDenialIsAStripeException()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-1", "stripe", "POST /v1/payment_intents");
        string keybrakeUrl = KeybrakeUrl;
        string vaultKey = key.Str("key");

        // snippet: stripe-net
        var stripe = new StripeClient(new StripeClientOptions { ApiKey = vaultKey, ApiBase = keybrakeUrl + "/proxy/stripe" });
        // end snippet
        PaymentIntent intent = await stripe.V1.PaymentIntents.CreateAsync(new PaymentIntentCreateOptions
        {
            Amount = 2000, Currency = "usd", Confirm = true, PaymentMethod = "pm_card_visa",
        });
        StripeException denied = await Assert.ThrowsAsync<StripeException>(() => stripe.V1.PaymentIntents.CreateAsync(new PaymentIntentCreateOptions
        {
            Amount = 90_000, Currency = "usd", Confirm = true, PaymentMethod = "pm_card_visa",
        }));

        Assert.Equal("succeeded", intent.Status);
        Assert.Equal(HttpStatusCode.TooManyRequests, denied.HttpStatusCode);
        Assert.Equal("keybrake_cap_exceeded", denied.StripeError.Code);
        Assert.Equal("invalid_request_error", denied.StripeError.Type);
        Assert.StartsWith("Spending cap reached", denied.Message, StringComparison.Ordinal);
        Assert.Single(_proxy.Vendors.Stripe.Ledger);
        SdkScripts.AssertNeverReached(_proxy.Vendors.Stripe, vaultKey);
    }

    [Fact]
    public async Task TwilioNet_WithAUrlHandler_SendsAnSms_AndACapDenialIsAnApiException()
    {
        JsonElement key = await _proxy.Host.IssueKeyAsync(
            "acme:notify-agent:sms:run-1", "twilio", cap: 0.05m, endpoints: ["POST /2010-04-01/Accounts/*/Messages"]);
        string keybrakeUrl = KeybrakeUrl;
        string vaultKey = key.Str("key");

        // snippet: twilio-net
        var twilio = new TwilioRestClient("AC00000000000000000000000000000000", vaultKey,
            httpClient: new Twilio.Http.SystemNetHttpClient(new HttpClient(new KeybrakeTwilioHandler(keybrakeUrl))));
        // end snippet
        MessageResource sent = await MessageResource.CreateAsync(
            new CreateMessageOptions(new PhoneNumber("+15145535858")) { From = new PhoneNumber("+15149002890"), Body = "Your code is 123456" }, twilio);
        ApiException denied = await Assert.ThrowsAsync<ApiException>(() => MessageResource.CreateAsync(
            new CreateMessageOptions(new PhoneNumber("+15145535858")) { From = new PhoneNumber("+15149002890"), Body = new string('x', 1600) }, twilio));

        Assert.Matches("^SM[0-9a-f]{32}$", sent.Sid);
        Assert.Equal(429, denied.Status);
        Assert.Equal(20429, denied.Code);
        Assert.Equal("keybrake:cap_exceeded", denied.MoreInfo);
        Assert.StartsWith("Spending cap reached", denied.Message, StringComparison.Ordinal);
        Assert.Single(_proxy.Vendors.Twilio.Ledger);
        SdkScripts.AssertNeverReached(_proxy.Vendors.Twilio, vaultKey);
    }

    [Fact]
    public async Task Curl_ReachesEachVendor_AndADenialIsTheVendorsErrorBody()
    {
        JsonElement stripeKey = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-2", "stripe", "POST /v1/payment_intents");
        JsonElement twilioKey = await _proxy.IssueKeyAsync("acme:notify-agent:sms:run-2", "twilio", "POST /2010-04-01/Accounts/*/Messages");
        JsonElement resendKey = await _proxy.IssueKeyAsync("acme:notify-agent:receipts:run-2", "resend", "POST /emails");
        JsonElement deniedKey = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-3", "stripe", "POST /v1/refunds");

        JsonElement intent = await SdkScripts.BashAsync("curl.sh", "stripe", _proxy.Host.BaseAddress, stripeKey.Str("key"));
        JsonElement message = await SdkScripts.BashAsync("curl.sh", "twilio", _proxy.Host.BaseAddress, twilioKey.Str("key"));
        JsonElement email = await SdkScripts.BashAsync("curl.sh", "resend", _proxy.Host.BaseAddress, resendKey.Str("key"));
        JsonElement denied = await SdkScripts.BashAsync("curl.sh", "stripe", _proxy.Host.BaseAddress, deniedKey.Str("key"));

        Assert.Equal("succeeded", intent.Str("status"));
        Assert.Equal("queued", message.Str("status"));
        Assert.Equal(_proxy.Vendors.Twilio.AccountSid, message.Str("account_sid"));
        Assert.Matches("^[0-9a-f-]{36}$", email.Str("id"));
        Assert.Equal("keybrake_endpoint_not_allowed", denied.GetProperty("error").Str("code"));
        Assert.Single(_proxy.Vendors.Stripe.Ledger);
        SdkScripts.AssertNeverReached(_proxy.Vendors.Stripe, stripeKey.Str("key"));
        SdkScripts.AssertNeverReached(_proxy.Vendors.Twilio, twilioKey.Str("key"));
        SdkScripts.AssertNeverReached(_proxy.Vendors.Resend, resendKey.Str("key"));
    }
}

// snippet: twilio-net-handler
// Twilio's .NET SDK builds https://api.twilio.com URLs itself: a handler moves every call to Keybrake.
internal sealed class KeybrakeTwilioHandler(string keybrakeUrl) : DelegatingHandler(new HttpClientHandler())
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.RequestUri = new Uri(keybrakeUrl + "/proxy/twilio" + request.RequestUri!.PathAndQuery);
        return base.SendAsync(request, cancellationToken);
    }
}
// end snippet
