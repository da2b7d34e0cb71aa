using System.Net;
using System.Text;
using System.Text.Json;
using Azure.Data.Tables;
using Keybrake.Sandbox;
using Keybrake.Tests.Support;
using Twilio.Clients;
using Twilio.Rest.Api.V2010.Account;
using Twilio.Types;

namespace Keybrake.Tests.Proxy;

/// <summary>
/// Vendor secrets: a missing one refuses the call (nothing forwarded), a tenant's own account
/// (<c>{name}--{tenant}</c>) wins over the shared one, and no secret or vault key ever reaches a log line,
/// an audit row or an agent.
/// </summary>
public sealed class SecretsTests : IAsyncLifetime
{
    private const string TwentyDollars = "amount=2000&currency=usd&confirm=true&payment_method=pm_card_visa";
    private const string WrongSharedKey = "sk_test_shared_but_wrong_0000000000000000";

    private FakeVendors _vendors = null!;
    private ProxyHost? _proxy;

    public async Task InitializeAsync() => _vendors = await FakeVendors.StartAsync();

    public async Task DisposeAsync()
    {
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync();
        }
        else
        {
            await _vendors.DisposeAsync();
        }
    }

    [Fact]
    public async Task MissingStripeSecret_Is503CredentialsUnavailable_AndNothingIsForwarded()
    {
        ProxyHost proxy = await StartAsync(new() { ["Secrets:stripe-secret-key"] = string.Empty });
        using HttpClient agent = await AgentAsync(proxy, "acme:billing-agent:secrets:run-1", "stripe", "POST /v1/payment_intents");

        HttpResponseMessage response = await agent.PostAsync("v1/payment_intents", Form(TwentyDollars));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        JsonElement error = (await Json.ReadAsync(response)).GetProperty("error");
        Assert.Equal(("keybrake_vendor_credentials_unavailable", "api_error"), (error.Str("code"), error.Str("type")));
        Assert.Empty(_vendors.Stripe.Ledger);
        TableEntity row = Assert.Single(await proxy.AuditRowsAsync());
        Assert.Equal(("error", "vendor_credentials_unavailable", 503), (row.GetString("Outcome"), row.GetString("Reason"), row.GetInt32("Status")));
        Assert.Equal(0, row.GetInt64("CostMicros") ?? 0);
    }

    [Fact]
    public async Task MissingTwilioAuthToken_Is503InTwilioShape_AndNothingIsForwarded()
    {
        ProxyHost proxy = await StartAsync(new() { ["Secrets:twilio-auth-token"] = string.Empty });
        JsonElement key = await proxy.IssueKeyAsync("acme:notify-agent:secrets:run-2", "twilio", "POST /2010-04-01/Accounts/*/Messages");
        var client = new TwilioRestClient("AC" + new string('0', 32), key.Str("key"),
            httpClient: new Twilio.Http.SystemNetHttpClient(BaseUrlRewriteHandler.CreateClient(proxy.ProxyBase("twilio"))));

        Twilio.Exceptions.ApiException error = await Assert.ThrowsAsync<Twilio.Exceptions.ApiException>(() => MessageResource.CreateAsync(
            new CreateMessageOptions(new PhoneNumber("+15145535858")) { From = new PhoneNumber("+15149002890"), Body = "hi" }, client));

        Assert.Equal(503, error.Status);
        Assert.Equal("keybrake:vendor_credentials_unavailable", error.MoreInfo);
        Assert.Empty(_vendors.Twilio.Ledger);
    }

    [Fact]
    public async Task TenantOverride_WinsOverTheSharedSecret_AndOtherTenantsGetTheVendors401()
    {
        ProxyHost proxy = await StartAsync(new()
        {
            ["Secrets:stripe-secret-key"] = WrongSharedKey,
            ["Secrets:stripe-secret-key--byo"] = _vendors.Stripe.SecretKey,
        });
        using HttpClient byo = await AgentAsync(proxy, "byo:billing-agent:secrets:run-3", "stripe", "POST /v1/payment_intents");
        using HttpClient acme = await AgentAsync(proxy, "acme:billing-agent:secrets:run-3", "stripe", "POST /v1/payment_intents");

        HttpResponseMessage own = await byo.PostAsync("v1/payment_intents", Form(TwentyDollars));
        HttpResponseMessage shared = await acme.PostAsync("v1/payment_intents", Form(TwentyDollars));

        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, shared.StatusCode);
        string refusal = await shared.Content.ReadAsStringAsync();
        Assert.StartsWith("Invalid API Key provided", JsonDocument.Parse(refusal).RootElement.GetProperty("error").Str("message"), StringComparison.Ordinal);
        Assert.DoesNotContain(WrongSharedKey, refusal, StringComparison.Ordinal);
        Assert.Equal(["Bearer " + _vendors.Stripe.SecretKey, "Bearer " + WrongSharedKey], _vendors.Stripe.Ledger.Select(e => e.Authorization));
        Assert.Equal([200, 401], _vendors.Stripe.Ledger.Select(e => e.Status));

        TableEntity ok = await proxy.AuditRowAsync(own.Headers.GetValues("X-Keybrake-Audit-Id").Single());
        TableEntity refused = await proxy.AuditRowAsync(shared.Headers.GetValues("X-Keybrake-Audit-Id").Single());
        Assert.Equal(("byo", 20_000_000L), (ok.GetString("Tenant"), ok.GetInt64("CostMicros")!.Value));
        Assert.Equal(("acme", 401, "vendor_refused", 0L),
            (refused.GetString("Tenant"), refused.GetInt32("Status")!.Value, refused.GetString("Reason"), refused.GetInt64("CostMicros")!.Value));
    }

    [Fact]
    public async Task NoSecretOrVaultKey_AppearsInLogsAuditRowsOrAnswers()
    {
        ProxyHost proxy = await StartAsync(new()
        {
            ["Secrets:stripe-secret-key"] = WrongSharedKey,
            ["Secrets:stripe-secret-key--byo"] = _vendors.Stripe.SecretKey,
        });
        JsonElement byoKey = await proxy.IssueKeyAsync("byo:billing-agent:secrets:run-4", "stripe", "POST /v1/payment_intents");
        JsonElement acmeKey = await proxy.IssueKeyAsync("acme:billing-agent:secrets:run-4", "stripe", "POST /v1/payment_intents");
        JsonElement twilioKey = await proxy.IssueKeyAsync("byo:notify-agent:secrets:run-4", "twilio", "POST /2010-04-01/Accounts/*/Messages");
        JsonElement resendKey = await proxy.IssueKeyAsync("byo:notify-agent:secrets:run-4", "resend", "POST /emails");
        string[] vaultKeys = [byoKey.Str("key"), acmeKey.Str("key"), twilioKey.Str("key"), resendKey.Str("key")];
        var answers = new List<string>();

        using (HttpClient byo = Agent(proxy, "stripe", vaultKeys[0]))
        using (HttpClient acme = Agent(proxy, "stripe", vaultKeys[1]))
        using (HttpClient forged = Agent(proxy, "stripe", vaultKeys[0][..^4] + (vaultKeys[0].EndsWith("aaaa", StringComparison.Ordinal) ? "bbbb" : "aaaa")))
        using (HttpClient resend = Agent(proxy, "resend", vaultKeys[3]))
        {
            answers.Add(await Answer(await byo.PostAsync("v1/payment_intents", Form(TwentyDollars)), HttpStatusCode.OK));
            answers.Add(await Answer(await acme.PostAsync("v1/payment_intents", Form(TwentyDollars)), HttpStatusCode.Unauthorized));
            answers.Add(await Answer(await byo.PostAsync("v1/refunds", Form("payment_intent=pi_1")), HttpStatusCode.Forbidden));
            answers.Add(await Answer(await forged.PostAsync("v1/payment_intents", Form(TwentyDollars)), HttpStatusCode.Unauthorized));
            answers.Add(await Answer(await resend.PostAsync("emails", new StringContent(
                """{"from":"a@example.com","to":"b@example.com","subject":"s","text":"t"}""", Encoding.UTF8, "application/json")), HttpStatusCode.OK));
        }

        var twilio = new TwilioRestClient("AC" + new string('1', 32), vaultKeys[2],
            httpClient: new Twilio.Http.SystemNetHttpClient(BaseUrlRewriteHandler.CreateClient(proxy.ProxyBase("twilio"))));
        await MessageResource.CreateAsync(new CreateMessageOptions(new PhoneNumber("+15145535858")) { From = new PhoneNumber("+15149002890"), Body = "hi" }, twilio);

        string[] secrets =
        [
            _vendors.Stripe.SecretKey, WrongSharedKey, _vendors.Twilio.AuthToken, _vendors.Resend.ApiKey,
            Convert.ToBase64String(Encoding.UTF8.GetBytes(_vendors.Twilio.AccountSid + ":" + _vendors.Twilio.AuthToken)),
            .. vaultKeys, .. vaultKeys.Select(k => k[(k.LastIndexOf('_') + 1)..]),
        ];
        List<TableEntity> rows = await proxy.AuditRowsAsync();
        Assert.Equal(6, rows.Count);
        Assert.True(_vendors.All.Sum(v => v.Ledger.Count) == 4, "the calls above must have reached the vendors");
        string logs = proxy.Host.Logs.All;
        string audit = string.Join("\n", rows.SelectMany(r => r.Select(p => p.Key + "=" + p.Value)));
        string agentSaw = string.Join("\n", answers);
        Assert.Contains("/proxy/stripe/v1/payment_intents", logs, StringComparison.Ordinal);
        foreach (string secret in secrets)
        {
            Assert.False(logs.Contains(secret, StringComparison.Ordinal), $"a log line holds a secret ({secret[..6]}…)");
            Assert.False(audit.Contains(secret, StringComparison.Ordinal), $"an audit row holds a secret ({secret[..6]}…)");
            Assert.False(agentSaw.Contains(secret, StringComparison.Ordinal), $"an answer holds a secret ({secret[..6]}…)");
        }
    }

    private async Task<ProxyHost> StartAsync(Dictionary<string, string?> settings)
    {
        _proxy = await ProxyHost.StartAsync(settings, _vendors);
        return _proxy;
    }

    private static async Task<HttpClient> AgentAsync(ProxyHost proxy, string label, string vendor, params string[] endpoints)
    {
        JsonElement key = await proxy.IssueKeyAsync(label, vendor, endpoints);
        return Agent(proxy, vendor, key.Str("key"));
    }

    private static HttpClient Agent(ProxyHost proxy, string vendor, string vaultKey)
    {
        var agent = new HttpClient { BaseAddress = proxy.ProxyBase(vendor) };
        agent.DefaultRequestHeaders.Authorization = new("Bearer", vaultKey);
        return agent;
    }

    private static async Task<string> Answer(HttpResponseMessage response, HttpStatusCode expected)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode}: {body}");
        return response.Headers + "\n" + body;
    }

    private static FormUrlEncodedContent Form(string body) =>
        new(body.Split('&').Select(p => p.Split('=')).Select(p => new KeyValuePair<string, string>(p[0], p[1])));
}
