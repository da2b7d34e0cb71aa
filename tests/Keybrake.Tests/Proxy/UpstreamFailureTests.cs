using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Azure.Data.Tables;
using Keybrake.Sandbox;
using Keybrake.Tests.Support;

namespace Keybrake.Tests.Proxy;

/// <summary>
/// The vendor is slow, gone, hangs up, or fails: the agent gets a vendor-shaped 502/504 (or the vendor's own
/// 5xx), and the audit row says whether money may have moved (in_doubt, estimate held) or surely did not
/// (error, nothing held).
/// </summary>
public sealed class UpstreamFailureTests : IAsyncLifetime
{
    private const string TwentyDollars = "amount=2000&currency=usd&confirm=true&payment_method=pm_card_visa";

    // Headers promising a 93-byte payment intent, then 21 bytes of it, then the vendor closes the connection.
    private const string TruncatedAnswer =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 93\r\nRequest-Id: req_raw_1\r\n\r\n" +
        "{\"id\":\"pi_cut_1\",\"obj";

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

    private FakeStripe Fake => _vendors.Stripe;

    [Fact]
    public async Task SlowVendor_Is504InStripesShape_AndTheCreateIsHeldInDoubtAtItsEstimate()
    {
        ProxyHost proxy = await StartAsync(new() { ["Vendors:stripe:TimeoutSeconds"] = "1" });
        using HttpClient agent = await AgentAsync(proxy, "POST /v1/payment_intents");
        Fake.Options.ResponseDelay = TimeSpan.FromSeconds(5);

        HttpResponseMessage response = await agent.PostAsync("v1/payment_intents", Form(TwentyDollars));

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        JsonElement error = (await Json.ReadAsync(response)).GetProperty("error");
        Assert.Equal("keybrake_upstream_timeout", error.Str("code"));
        Assert.Equal("api_error", error.Str("type"));
        Assert.Equal("POST", Assert.Single(Fake.Ledger).Method);
        TableEntity row = await proxy.AuditRowAsync(response.Headers.GetValues("X-Keybrake-Audit-Id").Single());
        Assert.Equal(("in_doubt", "upstream_timeout", 504), (row.GetString("Outcome"), row.GetString("Reason"), row.GetInt32("Status")));
        Assert.Equal(20_000_000, row.GetInt64("CostMicros"));
        Assert.Equal("estimated", row.GetString("CostSource"));
        Assert.Equal(("usd", 2000L), (row.GetString("Currency"), row.GetInt64("AmountMinor")!.Value));
    }

    [Fact]
    public async Task UnreachableVendor_Is502InStripesShape_AndCostsNothing()
    {
        int closedPort = ClosedPort();
        ProxyHost proxy = await StartAsync(new() { ["Vendors:stripe:BaseUrl"] = $"http://127.0.0.1:{closedPort}" });
        using HttpClient agent = await AgentAsync(proxy, "POST /v1/payment_intents");

        // A refused connection is retried after a back-off that Polly takes from the host's (fake) clock.
        HttpResponseMessage response = await WhileTheClockRunsAsync(proxy, agent.PostAsync("v1/payment_intents", Form(TwentyDollars)));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("keybrake_upstream_unreachable", (await Json.ReadAsync(response)).GetProperty("error").Str("code"));
        Assert.Empty(Fake.Ledger);
        TableEntity row = Assert.Single(await proxy.AuditRowsAsync());
        Assert.Equal(response.Headers.GetValues("X-Keybrake-Audit-Id").Single(), row.RowKey);
        Assert.Equal(("error", "upstream_unreachable", 502), (row.GetString("Outcome"), row.GetString("Reason"), row.GetInt32("Status")));
        Assert.Equal(0, row.GetInt64("CostMicros"));
    }

    [Fact]
    public async Task VendorHangsUpAfterProcessing_Is502_AndTheCreateIsHeldInDoubtAndSentOnce()
    {
        ProxyHost proxy = await StartAsync();
        using HttpClient agent = await AgentAsync(proxy, "POST /v1/payment_intents", "GET /v1/customers/*");

        // A first call leaves a pooled connection to the vendor: the hang-up must not be retried on a fresh one.
        Assert.True((await agent.GetAsync("v1/customers/cus_1")).IsSuccessStatusCode);
        Fake.Options.CloseConnectionWithoutResponse = true;

        // The clock runs so that a (wrong) retry would happen, and be caught by the ledger, rather than stall.
        HttpResponseMessage response = await WhileTheClockRunsAsync(proxy, agent.PostAsync("v1/payment_intents", Form(TwentyDollars)));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("keybrake_upstream_failed", (await Json.ReadAsync(response)).GetProperty("error").Str("code"));
        LedgerEntry create = Assert.Single(Fake.Ledger, e => e.Method == "POST");
        Assert.Equal("/v1/payment_intents", create.Path);
        TableEntity row = await proxy.AuditRowAsync(response.Headers.GetValues("X-Keybrake-Audit-Id").Single());
        Assert.Equal(("in_doubt", "upstream_failed", 502), (row.GetString("Outcome"), row.GetString("Reason"), row.GetInt32("Status")));
        Assert.Equal(20_000_000, row.GetInt64("CostMicros"));
    }

    [Fact]
    public async Task VendorBreaksOffMidAnswer_Is502UpstreamFailed_AndHeldInDoubt()
    {
        await using RawUpstream vendor = RawUpstream.Start(TruncatedAnswer);
        ProxyHost proxy = await StartAsync(new() { ["Vendors:stripe:BaseUrl"] = vendor.BaseUrl.ToString().TrimEnd('/') });
        using HttpClient agent = await AgentAsync(proxy, "POST /v1/payment_intents");

        HttpResponseMessage response = await agent.PostAsync("v1/payment_intents", Form(TwentyDollars));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("keybrake_upstream_failed", (await Json.ReadAsync(response)).GetProperty("error").Str("code"));
        Assert.Equal(1, vendor.Requests);
        TableEntity row = await proxy.AuditRowAsync(response.Headers.GetValues("X-Keybrake-Audit-Id").Single());
        Assert.Equal(("in_doubt", "upstream_failed", 20_000_000L), (row.GetString("Outcome"), row.GetString("Reason"), row.GetInt64("CostMicros")!.Value));
    }

    [Fact]
    public async Task VendorBreaksOffMidAnswer_IsNeverPassedOnAsASuccess_AndHeldInDoubt()
    {
        await using RawUpstream vendor = RawUpstream.Start(TruncatedAnswer);
        ProxyHost proxy = await StartAsync(new() { ["Vendors:stripe:BaseUrl"] = vendor.BaseUrl.ToString().TrimEnd('/') });
        using HttpClient agent = await AgentAsync(proxy, "POST /v1/payment_intents");

        HttpResponseMessage response = await agent.PostAsync("v1/payment_intents", Form(TwentyDollars));

        Assert.True((int)response.StatusCode >= 500, response.StatusCode.ToString());
        Assert.Equal(1, vendor.Requests);
        TableEntity row = await proxy.AuditRowAsync(response.Headers.GetValues("X-Keybrake-Audit-Id").Single());
        Assert.Equal(("in_doubt", 20_000_000L), (row.GetString("Outcome"), row.GetInt64("CostMicros")!.Value));
    }

    [Fact]
    public async Task VendorHangsUpOnARead_IsAnErrorThatCostsNothing()
    {
        ProxyHost proxy = await StartAsync();
        using HttpClient agent = await AgentAsync(proxy, "GET /v1/customers/*");
        Fake.Options.CloseConnectionWithoutResponse = true;

        HttpResponseMessage response = await agent.GetAsync("v1/customers/cus_1");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        TableEntity row = await proxy.AuditRowAsync(response.Headers.GetValues("X-Keybrake-Audit-Id").Single());
        Assert.Equal(("error", 0L), (row.GetString("Outcome"), row.GetInt64("CostMicros")!.Value));
    }

    [Fact]
    public async Task VendorServerError_OnACreate_IsPassedThrough_AndHeldInDoubt()
    {
        ProxyHost proxy = await StartAsync();
        using HttpClient agent = await AgentAsync(proxy, "POST /v1/payment_intents");
        Fake.Options.FailWithStatus = 500;

        HttpResponseMessage response = await agent.PostAsync("v1/payment_intents", Form(TwentyDollars));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        JsonElement error = (await Json.ReadAsync(response)).GetProperty("error");
        Assert.Equal("api_error", error.Str("type"));
        Assert.Equal("An unknown error occurred", error.Str("message"));
        LedgerEntry entry = Assert.Single(Fake.Ledger);
        Assert.Equal(500, entry.Status);
        TableEntity row = await proxy.AuditRowAsync(response.Headers.GetValues("X-Keybrake-Audit-Id").Single());
        Assert.Equal(("in_doubt", "vendor_error", 500), (row.GetString("Outcome"), row.GetString("Reason"), row.GetInt32("Status")));
        Assert.Equal(20_000_000, row.GetInt64("CostMicros"));
        Assert.Equal("estimated", row.GetString("CostSource"));
        Assert.StartsWith("req_", row.GetString("VendorRequestId"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task VendorServerError_OnAFreeRead_IsPassedThrough_AndCostsNothing()
    {
        ProxyHost proxy = await StartAsync();
        using HttpClient agent = await AgentAsync(proxy, "GET /v1/customers/*");
        Fake.Options.FailWithStatus = 500;

        HttpResponseMessage response = await agent.GetAsync("v1/customers/cus_1");

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        TableEntity row = await proxy.AuditRowAsync(response.Headers.GetValues("X-Keybrake-Audit-Id").Single());
        Assert.Equal(("forwarded", 0L), (row.GetString("Outcome"), row.GetInt64("CostMicros")!.Value));
    }

    private async Task<ProxyHost> StartAsync(Dictionary<string, string?>? settings = null)
    {
        _proxy = await ProxyHost.StartAsync(settings, _vendors, ownVendorAccounts: ["acme"]);
        return _proxy;
    }

    private static async Task<HttpClient> AgentAsync(ProxyHost proxy, params string[] endpoints)
    {
        JsonElement key = await proxy.IssueKeyAsync("acme:billing-agent:failures:run-1", "stripe", endpoints);
        var agent = new HttpClient { BaseAddress = proxy.ProxyBase("stripe") };
        agent.DefaultRequestHeaders.Authorization = new("Bearer", key.Str("key"));
        return agent;
    }

    /// <summary>
    /// Advances the host's fake clock until <paramref name="call"/> completes. The vendor client's retry back-off
    /// runs on the TimeProvider from DI, which the test host fakes, so without this a retried call would wait
    /// until the (real-time) upstream timeout. A wait for completion, not a timing assertion.
    /// </summary>
    private static async Task<T> WhileTheClockRunsAsync<T>(ProxyHost proxy, Task<T> call)
    {
        while (!call.IsCompleted)
        {
            proxy.Host.Time.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAny(call, Task.Delay(20));
        }

        return await call;
    }

    private static FormUrlEncodedContent Form(string body) =>
        new(body.Split('&').Select(p => p.Split('=')).Select(p => new KeyValuePair<string, string>(p[0], p[1])));

    /// <summary>A loopback port nothing listens on: bound once to pick it, then closed.</summary>
    private static int ClosedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
