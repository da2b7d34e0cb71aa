using System.Net.Http.Json;
using System.Text.Json;
using Azure.Data.Tables;
using Keybrake.Sandbox;
using Keybrake.Tests.Support;

namespace Keybrake.Tests.Proxy;

/// <summary>
/// Which headers cross the proxy (docs/design.md §9): credentials, cookies, client addresses, platform and
/// hop-by-hop headers never do; Idempotency-Key, Stripe-Version, Stripe-Account and Content-Type do,
/// byte for byte. Requests are written raw so that HttpClient cannot add, drop or merge anything.
/// </summary>
public sealed class HeaderTests(SharedProxyHostForAcmesOwnAccounts shared) : IClassFixture<SharedProxyHostForAcmesOwnAccounts>, IAsyncLifetime
{
    private const string FormBody = "amount=2000&currency=usd&confirm=true&payment_method=pm_card_visa";

    private static readonly string[] NeverForwarded =
    [
        "Cookie", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded", "X-Real-IP", "x-functions-key",
        "Proxy-Authorization", "Proxy-Connection", "X-Hop", "Keep-Alive", "TE", "Max-Forwards", "X-Original-URL",
        "X-ARR-LOG-ID", "X-MS-CLIENT-PRINCIPAL", "X-Keybrake-Cost-Usd", "Accept-Encoding",
    ];

    private ProxyHost _proxy = null!;

    public async Task InitializeAsync() => _proxy = await shared.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    private FakeStripe Fake => _proxy.Vendors.Stripe;

    [Fact]
    public async Task ClientHeaders_OnlyTheVendorsOwnAreForwarded_WithExactValues()
    {
        // Stripe-Account reaches Stripe only for a key bound to that connected account (issue #20).
        using HttpClient root = _proxy.Host.Client();
        HttpResponseMessage issued = await root.PostAsJsonAsync("/v1/keys", new
        {
            label = "acme:billing-agent:headers:run-1", vendor = "stripe", daily_usd_cap = 500, allowed_endpoints = new[] { "POST /v1/payment_intents" },
            expires_in = "1h", vendor_account = "acct_1KbT3xQ2aLkdIwHu",
        });
        string vaultKey = (await Json.ReadAsync(issued)).Str("key");

        RawExchange.Reply reply = await RawExchange.SendAsync(_proxy.Host.BaseAddress, "POST /proxy/stripe/v1/payment_intents HTTP/1.1",
        [
            ("Host", _proxy.Host.BaseAddress.Authority),
            ("Authorization", "Bearer " + vaultKey),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Idempotency-Key", "idem-7f3a9c Checkout/42"),
            ("Stripe-Version", "2024-06-20; payment_intent_beta=v3"),
            ("Stripe-Account", "acct_1KbT3xQ2aLkdIwHu"),
            ("Cookie", "session=agent-cookie-value; __stripe_mid=m1"),
            ("X-Forwarded-For", "203.0.113.9, 10.0.0.1"),
            ("X-Forwarded-Host", "evil.example"),
            ("X-Forwarded-Proto", "https"),
            ("Forwarded", "for=203.0.113.9;host=evil.example;proto=https"),
            ("X-Real-IP", "203.0.113.9"),
            ("x-functions-key", "functions-key-value"),
            ("Proxy-Authorization", "Basic cHJveHk6cHJveHktc2VjcmV0"),
            ("Proxy-Connection", "keep-alive"),
            // Not "X-Hop, close": Kestrel rewrites a Connection header holding "close" to just "close", losing X-Hop.
            ("Connection", "X-Hop"),
            ("X-Hop", "1"),
            ("Keep-Alive", "timeout=5, max=100"),
            ("TE", "trailers"),
            ("Max-Forwards", "3"),
            ("X-Original-URL", "/admin"),
            ("X-ARR-LOG-ID", "arr-log"),
            ("X-MS-CLIENT-PRINCIPAL", "cHJpbmNpcGFs"),
            ("X-Keybrake-Cost-Usd", "0.000000"),
            ("Accept-Encoding", "gzip, br"),
        ], FormBody);

        Assert.True(reply.Status == 200, reply.Raw);
        LedgerEntry entry = Assert.Single(Fake.Ledger);
        Assert.Equal("Bearer " + Fake.SecretKey, entry.Authorization);
        Assert.Equal("application/x-www-form-urlencoded", entry.Headers["Content-Type"]);
        Assert.Equal("idem-7f3a9c Checkout/42", entry.Headers["Idempotency-Key"]);
        Assert.Equal("2024-06-20; payment_intent_beta=v3", entry.Headers["Stripe-Version"]);
        Assert.Equal("acct_1KbT3xQ2aLkdIwHu", entry.Headers["Stripe-Account"]);
        // The agent's parameters pass unchanged; a money-moving create gains only the proxy's lookup tag.
        Assert.Matches("^" + System.Text.RegularExpressions.Regex.Escape(FormBody) + "&metadata%5Bkeybrake_ref%5D=kb[0-9a-f]{32}$", entry.Body);
        Assert.All(NeverForwarded, name => Assert.False(entry.Headers.ContainsKey(name), $"{name} was forwarded: {entry.Headers.GetValueOrDefault(name)}"));
        string everything = string.Join("\n", entry.Headers.Select(h => h.Key + ": " + h.Value));
        foreach (string leaked in new[] { vaultKey, "agent-cookie-value", "203.0.113.9", "evil.example", "functions-key-value", "cHJveHk6cHJveHktc2VjcmV0", "X-Hop" })
        {
            Assert.DoesNotContain(leaked, everything, StringComparison.OrdinalIgnoreCase);
        }

        string auditId = Assert.Single(reply.Values("X-Keybrake-Audit-Id"));
        Assert.Equal("20.000000", Assert.Single(reply.Values("X-Keybrake-Cost-Usd")));
        // Fractional milliseconds with a point: "0.42", not the whole milliseconds that read 0 on the in-memory path.
        Assert.Matches(@"^[0-9]+\.[0-9]{2}$", Assert.Single(reply.Values("X-Keybrake-Overhead-Ms")));
        Assert.False(reply.Has("Set-Cookie"));
        TableEntity row = await _proxy.AuditRowAsync(auditId);
        Assert.Equal("idem-7f3a9c Checkout/42", row.GetString("IdempotencyKey"));
        Assert.Equal(20_000_000, row.GetInt64("CostMicros"));
    }

    [Fact]
    public async Task HeadersOffTheVendorsAllowList_AndHeadersNamedInConnection_AreNeverForwarded()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:headers:run-4", "stripe", "GET /v1/customers/*");
        string[] offTheList = ["X-HTTP-Method-Override", "X-Method-Override", "X-HTTP-Method", "True-Client-IP", "CF-Connecting-IP", "Fastly-Client-IP",
            "X-Cluster-Client-IP", "Via", "Origin", "Referer", "X-Agent-Note", "Content-Encoding", "Accept-Encoding", "Idempotency-Key"];

        RawExchange.Reply reply = await RawExchange.SendAsync(_proxy.Host.BaseAddress, "GET /proxy/stripe/v1/customers/cus_7 HTTP/1.1",
        [
            ("Host", _proxy.Host.BaseAddress.Authority),
            ("Authorization", "Bearer " + key.Str("key")),
            ("X-HTTP-Method-Override", "DELETE"),
            ("X-Method-Override", "DELETE"),
            ("X-HTTP-Method", "DELETE"),
            ("True-Client-IP", "203.0.113.77"),
            ("CF-Connecting-IP", "203.0.113.77"),
            ("Fastly-Client-IP", "203.0.113.77"),
            ("X-Cluster-Client-IP", "203.0.113.77"),
            ("Via", "1.1 agent-box"),
            ("Origin", "https://evil.example"),
            ("Referer", "https://evil.example/x"),
            ("X-Agent-Note", "anything"),
            ("Content-Encoding", "gzip"),
            ("Accept-Encoding", "gzip"),

            // Allowed for Stripe, but the client declared them hop-by-hop.
            ("Connection", "Idempotency-Key"),
            ("Idempotency-Key", "hop-only"),
            ("Stripe-Version", "2024-06-20"),
            ("User-Agent", "Stripe/v1 DotNetBindings/53.1.0"),
            ("Accept", "application/json"),
        ]);

        Assert.True(reply.Status == 200, reply.Raw);
        LedgerEntry entry = Assert.Single(Fake.Ledger);
        Assert.Equal("GET", entry.Method);
        Assert.All(offTheList, name => Assert.False(entry.Headers.ContainsKey(name), $"{name} was forwarded: {entry.Headers.GetValueOrDefault(name)}"));
        Assert.DoesNotContain("203.0.113.77", string.Join("\n", entry.Headers.Values), StringComparison.Ordinal);
        Assert.Equal("2024-06-20", entry.Headers["Stripe-Version"]);
        Assert.Equal("Stripe/v1 DotNetBindings/53.1.0", entry.Headers["User-Agent"]);
        Assert.Equal("application/json", entry.Headers["Accept"]);
    }

    [Fact]
    public async Task EachVendorGetsItsOwnAllowList_ResendGetsIdempotencyKeyButNotStripesHeaders()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:notify-agent:headers:run-5", "resend", "POST /emails");
        using var http = new HttpClient { BaseAddress = _proxy.ProxyBase("resend") };
        http.DefaultRequestHeaders.Authorization = new("Bearer", key.Str("key"));
        using var request = new HttpRequestMessage(HttpMethod.Post, "emails")
        {
            Content = new StringContent("""{"from":"a@example.com","to":"b@example.com","subject":"s","text":"t"}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Idempotency-Key", "receipt-77");
        request.Headers.Add("Stripe-Version", "2024-06-20");
        request.Headers.Add("Stripe-Account", "acct_1");

        HttpResponseMessage response = await http.SendAsync(request);

        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        LedgerEntry entry = Assert.Single(_proxy.Vendors.Resend.Ledger);
        Assert.Equal("receipt-77", entry.Headers["Idempotency-Key"]);
        Assert.False(entry.Headers.ContainsKey("Stripe-Version"));
        Assert.False(entry.Headers.ContainsKey("Stripe-Account"));
        Assert.StartsWith("application/json", entry.Headers["Content-Type"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task StripeContext_SwitchesTheAccount_SoItIsRefused_NotDroppedOrForwarded()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:headers:run-6", "stripe", "POST /v1/payment_intents");
        using var http = new HttpClient { BaseAddress = _proxy.ProxyBase("stripe") };
        http.DefaultRequestHeaders.Authorization = new("Bearer", key.Str("key"));
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/payment_intents")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["amount"] = "100", ["currency"] = "usd" }),
        };
        request.Headers.Add("Stripe-Context", "acct_1KbT3xQ2aLkdIwHu");
        int before = _proxy.Vendors.Stripe.Ledger.Count;

        HttpResponseMessage response = await http.SendAsync(request);

        Assert.Equal(System.Net.HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("keybrake_vendor_account_not_allowed", (await Json.ReadAsync(response)).GetProperty("error").Str("code"));
        Assert.Equal(before, _proxy.Vendors.Stripe.Ledger.Count);
    }

    [Fact]
    public async Task HttpClientAgent_GetsTheKeybrakeHeaders_AndTheVendorSeesOnlyTheRealSecret()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:reporting-agent:headers:run-2", "stripe", "GET /v1/customers/*");
        using var http = new HttpClient { BaseAddress = _proxy.ProxyBase("stripe") };
        http.DefaultRequestHeaders.Authorization = new("Bearer", key.Str("key"));
        http.DefaultRequestHeaders.Add("Cookie", "a=b");
        http.DefaultRequestHeaders.Add("X-Forwarded-For", "198.51.100.7");
        http.DefaultRequestHeaders.Add("Stripe-Version", "2025-01-27.acacia");

        HttpResponseMessage response = await http.GetAsync("v1/customers/cus_42");

        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        LedgerEntry entry = Assert.Single(Fake.Ledger);
        Assert.Equal("Bearer " + Fake.SecretKey, entry.Authorization);
        Assert.Equal("2025-01-27.acacia", entry.Headers["Stripe-Version"]);
        Assert.False(entry.Headers.ContainsKey("Cookie"));
        Assert.False(entry.Headers.ContainsKey("X-Forwarded-For"));
        Assert.Equal("0.000000", response.Headers.GetValues("X-Keybrake-Cost-Usd").Single());
        Assert.NotNull(await _proxy.AuditRowAsync(response.Headers.GetValues("X-Keybrake-Audit-Id").Single()));
        Assert.True(response.Headers.Contains("X-Keybrake-Overhead-Ms"));
        Assert.StartsWith("req_", response.Headers.GetValues("Request-Id").Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task VendorCookiesAndForgedKeybrakeHeaders_NeverReachTheAgent()
    {
        await using StubUpstream stub = await StubUpstream.StartAsync(200, """{"id":"cus_1","object":"customer"}""",
            ("Set-Cookie", "__stripe_sid=vendor-session; Path=/; HttpOnly"),
            ("Set-Cookie", "machine_identifier=m2; Path=/"),
            ("X-Keybrake-Cost-Usd", "999.000000"),
            ("X-Keybrake-Audit-Id", "forged-audit-id"),
            ("X-Keybrake-Overhead-Ms", "-1"),
            ("Strict-Transport-Security", "max-age=63072000"),
            ("Alt-Svc", "h3=\":443\""),
            ("Request-Id", "req_stub_1"),
            ("Stripe-Should-Retry", "false"));
        await using ProxyHost proxy = await ProxyHost.StartAsync(new Dictionary<string, string?>
        {
            ["Vendors:stripe:BaseUrl"] = stub.BaseUrl.ToString().TrimEnd('/'),
        }, ownVendorAccounts: ["acme"]);
        JsonElement key = await proxy.IssueKeyAsync("acme:reporting-agent:headers:run-3", "stripe", "GET /v1/customers/*");

        RawExchange.Reply reply = await RawExchange.SendAsync(proxy.Host.BaseAddress, "GET /proxy/stripe/v1/customers/cus_1 HTTP/1.1",
            [("Host", proxy.Host.BaseAddress.Authority), ("Authorization", "Bearer " + key.Str("key")), ("Connection", "close")]);

        Assert.True(reply.Status == 200, reply.Raw);
        Assert.Single(stub.Received);
        Assert.False(reply.Has("Set-Cookie"), reply.Raw);
        Assert.False(reply.Has("Strict-Transport-Security"), reply.Raw);
        Assert.False(reply.Has("Alt-Svc"), reply.Raw);
        Assert.Equal("0.000000", Assert.Single(reply.Values("X-Keybrake-Cost-Usd")));
        Assert.Equal("req_stub_1", Assert.Single(reply.Values("Request-Id")));
        Assert.Equal("false", Assert.Single(reply.Values("Stripe-Should-Retry")));
        string auditId = Assert.Single(reply.Values("X-Keybrake-Audit-Id"));
        Assert.NotEqual("forged-audit-id", auditId);
        Assert.NotEqual("-1", Assert.Single(reply.Values("X-Keybrake-Overhead-Ms")));
        TableEntity row = await proxy.AuditRowAsync(auditId);
        Assert.Equal("req_stub_1", row.GetString("VendorRequestId"));
        Assert.Equal("""{"id":"cus_1","object":"customer"}""", reply.Body);
    }
}
