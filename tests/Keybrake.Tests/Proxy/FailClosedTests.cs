using System.Net;
using System.Text.Json;
using Azure.Data.Tables;
using Keybrake.Sandbox;
using Keybrake.Tests.Support;

namespace Keybrake.Tests.Proxy;

/// <summary>
/// docs/design.md §5 "Nothing lost": the audit intent is written before the call is forwarded, so when storage is
/// unreachable nothing reaches the vendor, and once storage is back calls flow and are audited again.
/// Storage is put behind a TCP relay that the test cuts and restores on the same address.
/// </summary>
public sealed class FailClosedTests : IAsyncLifetime
{
    private const string TwentyDollars = "amount=2000&currency=usd&confirm=true&payment_method=pm_card_visa";


    private TcpRelay _relay = null!;
    private string _relayedStorage = null!;
    private ProxyHost _proxy = null!;

    public async Task InitializeAsync()
    {
        (_relay, _relayedStorage) = TcpRelay.ForTestStorage();
        _proxy = await ProxyHost.StartAsync(Settings(), ownVendorAccounts: ["acme"]);
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _relay.DisposeAsync();
    }

    private FakeStripe Fake => _proxy.Vendors.Stripe;

    [Fact]
    public async Task StorageDown_WithACachedKey_NothingReachesTheVendor_AndNothingIsLostOnceItReturns()
    {
        using HttpClient agent = await AgentAsync("acme:billing-agent:outage:run-0");
        HttpResponseMessage before = await agent.PostAsync("v1/payment_intents", Form(TwentyDollars));
        Assert.True(before.IsSuccessStatusCode, await before.Content.ReadAsStringAsync());
        int forwarded = Fake.Ledger.Count;

        _relay.Cut();
        HttpResponseMessage during = await agent.PostAsync("v1/payment_intents", Form(TwentyDollars));

        Assert.False(during.IsSuccessStatusCode);
        Assert.True((int)during.StatusCode >= 500, during.StatusCode.ToString());
        Assert.Equal(forwarded, Fake.Ledger.Count);

        _relay.Restore();
        HttpResponseMessage after = await agent.PostAsync("v1/payment_intents", Form(TwentyDollars));

        Assert.True(after.IsSuccessStatusCode, await after.Content.ReadAsStringAsync());
        Assert.Equal(forwarded + 1, Fake.Ledger.Count);
        List<TableEntity> rows = await _proxy.AuditRowsAsync();
        Assert.Equal(Fake.Ledger.Select(e => e.ObjectId).Order(), rows.Select(r => r.GetString("VendorObjectId")).Order());
        Assert.All(rows, r => Assert.Equal("forwarded", r.GetString("Outcome")));
    }

    [Fact]
    public async Task StorageDown_WithAnUncachedKey_NothingReachesTheVendor()
    {
        using HttpClient warm = await AgentAsync("acme:billing-agent:outage:run-0b");
        Assert.True((await warm.PostAsync("v1/payment_intents", Form(TwentyDollars))).IsSuccessStatusCode);
        using HttpClient cold = await AgentAsync("acme:billing-agent:outage:run-0c");
        int forwarded = Fake.Ledger.Count;

        _relay.Cut();
        HttpResponseMessage response = await cold.PostAsync("v1/payment_intents", Form(TwentyDollars));

        Assert.True((int)response.StatusCode >= 500, response.StatusCode.ToString());
        Assert.Equal(forwarded, Fake.Ledger.Count);
    }

    [Fact]
    public async Task StorageDown_WithACachedKey_Is503AuditUnavailable_AndNothingReachesTheVendor()
    {
        using HttpClient agent = await AgentAsync("acme:billing-agent:outage:run-1");
        HttpResponseMessage before = await agent.PostAsync("v1/payment_intents", Form(TwentyDollars));
        Assert.True(before.IsSuccessStatusCode, await before.Content.ReadAsStringAsync());
        int forwarded = Fake.Ledger.Count;

        _relay.Cut();
        HttpResponseMessage during = await agent.PostAsync("v1/payment_intents", Form(TwentyDollars));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, during.StatusCode);
        JsonElement error = (await Json.ReadAsync(during)).GetProperty("error");
        Assert.Equal("keybrake_audit_unavailable", error.Str("code"));
        Assert.Equal("api_error", error.Str("type"));
        Assert.Equal(forwarded, Fake.Ledger.Count);
        Assert.Equal("0.000000", during.Headers.GetValues("X-Keybrake-Cost-Usd").Single());

        _relay.Restore();
        HttpResponseMessage after = await agent.PostAsync("v1/payment_intents", Form(TwentyDollars));

        Assert.True(after.IsSuccessStatusCode, await after.Content.ReadAsStringAsync());
        Assert.Equal(forwarded + 1, Fake.Ledger.Count);
        TableEntity row = await _proxy.AuditRowAsync(after.Headers.GetValues("X-Keybrake-Audit-Id").Single());
        Assert.Equal(("forwarded", 200, 20_000_000L), (row.GetString("Outcome"), row.GetInt32("Status")!.Value, row.GetInt64("CostMicros")!.Value));
        Assert.Equal(Fake.Ledger[^1].ObjectId, row.GetString("VendorObjectId"));

        // Every call that reached the vendor is audited; the refused one left nothing behind.
        List<TableEntity> rows = await _proxy.AuditRowsAsync();
        Assert.Equal(2, rows.Count);
        Assert.Equal(Fake.Ledger.Select(e => e.ObjectId).Order(), rows.Select(r => r.GetString("VendorObjectId")).Order());
    }

    [Fact]
    public async Task StorageDown_WithAnUncachedKey_Is503StorageUnavailable_AndNothingReachesTheVendor()
    {
        using HttpClient warm = await AgentAsync("acme:billing-agent:outage:run-2");
        Assert.True((await warm.PostAsync("v1/payment_intents", Form(TwentyDollars))).IsSuccessStatusCode);
        using HttpClient cold = await AgentAsync("acme:billing-agent:outage:run-3");
        int forwarded = Fake.Ledger.Count;

        _relay.Cut();
        HttpResponseMessage response = await cold.PostAsync("v1/payment_intents", Form(TwentyDollars));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("keybrake_storage_unavailable", (await Json.ReadAsync(response)).GetProperty("error").Str("code"));
        Assert.Equal(forwarded, Fake.Ledger.Count);

        _relay.Restore();
        HttpResponseMessage after = await cold.PostAsync("v1/payment_intents", Form(TwentyDollars));
        Assert.True(after.IsSuccessStatusCode, await after.Content.ReadAsStringAsync());
        Assert.Equal(forwarded + 1, Fake.Ledger.Count);
    }

    [Fact]
    public async Task StorageDown_ForEveryVendor_IsA503InTheVendorsShape_AndNothingReachesAnyVendor()
    {
        JsonElement stripeKey = await _proxy.IssueKeyAsync("acme:billing-agent:outage:run-4", "stripe", "POST /v1/payment_intents");
        JsonElement resendKey = await _proxy.IssueKeyAsync("acme:notify-agent:outage:run-4", "resend", "POST /emails");
        using var stripe = new HttpClient { BaseAddress = _proxy.ProxyBase("stripe") };
        stripe.DefaultRequestHeaders.Authorization = new("Bearer", stripeKey.Str("key"));
        using var resend = new HttpClient { BaseAddress = _proxy.ProxyBase("resend") };
        resend.DefaultRequestHeaders.Authorization = new("Bearer", resendKey.Str("key"));
        var email = new StringContent("""{"from":"a@example.com","to":"b@example.com","subject":"s","text":"t"}""", System.Text.Encoding.UTF8, "application/json");
        Assert.True((await stripe.PostAsync("v1/payment_intents", Form(TwentyDollars))).IsSuccessStatusCode);
        Assert.True((await resend.PostAsync("emails", email)).IsSuccessStatusCode);
        int before = _proxy.Vendors.All.Sum(v => v.Ledger.Count);

        _relay.Cut();
        HttpResponseMessage stripeDuring = await stripe.PostAsync("v1/payment_intents", Form(TwentyDollars));
        HttpResponseMessage resendDuring = await resend.PostAsync("emails",
            new StringContent("""{"from":"a@example.com","to":"b@example.com","subject":"s2","text":"t"}""", System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, stripeDuring.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, resendDuring.StatusCode);
        JsonElement resendError = await Json.ReadAsync(resendDuring);
        Assert.Equal(503, resendError.GetProperty("statusCode").GetInt32());
        Assert.Equal("keybrake_audit_unavailable", resendError.Str("name"));
        Assert.Equal(before, _proxy.Vendors.All.Sum(v => v.Ledger.Count));
    }

    [Fact]
    public async Task StorageDown_WithACachedKey_ADenialIsStillTheVendorShaped403()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:outage:run-5", "stripe", "POST /v1/payment_intents", "GET /v1/customers/*");
        using var agent = new HttpClient { BaseAddress = _proxy.ProxyBase("stripe") };
        agent.DefaultRequestHeaders.Authorization = new("Bearer", key.Str("key"));
        Assert.True((await agent.GetAsync("v1/customers/cus_1")).IsSuccessStatusCode);

        _relay.Cut();
        HttpResponseMessage refund = await agent.PostAsync("v1/refunds", Form("payment_intent=pi_1&amount=100"));

        // The denial's audit row is lost (logged), but the refusal itself is the same as ever.
        Assert.Equal(HttpStatusCode.Forbidden, refund.StatusCode);
        Assert.Equal("keybrake_endpoint_not_allowed", (await Json.ReadAsync(refund)).GetProperty("error").Str("code"));
        Assert.Single(Fake.Ledger);
    }

    [Fact]
    public async Task StorageLostWhileTheVendorWorks_TheAgentStillGetsTheVendorsAnswer_AndTheIntentStaysInDoubt()
    {
        await using StubUpstream vendor = await StubUpstream.StartAsync(200,
            """{"id":"pi_stub_1","object":"payment_intent","amount":2000,"currency":"usd","status":"succeeded"}""",
            ("Request-Id", "req_stub_outage"));
        Dictionary<string, string?> settings = Settings();
        settings["Vendors:stripe:BaseUrl"] = vendor.BaseUrl.ToString().TrimEnd('/');
        await using ProxyHost proxy = await ProxyHost.StartAsync(settings);
        JsonElement key = await proxy.IssueKeyAsync("acme:billing-agent:outage:run-6", "stripe", "POST /v1/payment_intents");
        using var agent = new HttpClient { BaseAddress = proxy.ProxyBase("stripe") };
        agent.DefaultRequestHeaders.Authorization = new("Bearer", key.Str("key"));

        // Storage goes away after the intent was written and while the vendor is moving the money.
        vendor.OnRequest = _relay.Cut;
        HttpResponseMessage response = await agent.PostAsync("v1/payment_intents", Form(TwentyDollars));

        // The money moved: the agent must learn that, or it retries and pays twice.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("pi_stub_1", (await Json.ReadAsync(response)).Str("id"));
        Assert.Single(vendor.Received);
        TableEntity row = Assert.Single(await proxy.AuditRowsAsync());
        Assert.Equal(("in_doubt", "intent", 20_000_000L), (row.GetString("Outcome"), row.GetString("Reason"), row.GetInt64("CostMicros")!.Value));
    }

    private Dictionary<string, string?> Settings() => new()
    {
        ["Tables:ConnectionString"] = _relayedStorage,

        // The key record stays cached while storage is down, so the audit write is what must fail closed.
        ["Proxy:KeyCacheMilliseconds"] = "2000",
    };

    private async Task<HttpClient> AgentAsync(string label)
    {
        JsonElement key = await _proxy.IssueKeyAsync(label, "stripe", "POST /v1/payment_intents");
        var agent = new HttpClient { BaseAddress = _proxy.ProxyBase("stripe") };
        agent.DefaultRequestHeaders.Authorization = new("Bearer", key.Str("key"));
        return agent;
    }

    private static FormUrlEncodedContent Form(string body) =>
        new(body.Split('&').Select(p => p.Split('=')).Select(p => new KeyValuePair<string, string>(p[0], p[1])));
}
