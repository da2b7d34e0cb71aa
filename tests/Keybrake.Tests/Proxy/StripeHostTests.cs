using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Azure.Data.Tables;
using Keybrake.DevHost;
using Keybrake.Functions.Proxy;
using Keybrake.Sandbox;
using Keybrake.Tests.Support;

namespace Keybrake.Tests.Proxy;

/// <summary>
/// Stripe at the app's root (issue #16), for SDKs that take only a host: a request on a <c>/v1</c> route is a
/// Stripe call when it bears a vault key (or arrives on a configured Stripe host name), and then it goes
/// through exactly the pipeline of <c>/proxy/stripe/v1/…</c>; otherwise it is the operator API.
/// </summary>
public sealed class StripeHostTests : IAsyncLifetime
{
    private const string StripeHostName = "stripe.keybrake.test";
    private ProxyHost _proxy = null!;

    public async Task InitializeAsync() =>
        _proxy = await ProxyHost.StartAsync(new Dictionary<string, string?> { ["Proxy:StripeHostNames"] = "other.test, " + StripeHostName });

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    private FakeStripe Fake => _proxy.Vendors.Stripe;

    [Fact]
    public async Task TokensRoute_WithAVaultKey_IsStripes_WithAnOperatorToken_IsTheOperatorApi()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:cards:run-1", "stripe", "POST /v1/tokens");

        using HttpResponseMessage stripe = await SendAsync(HttpMethod.Post, "/v1/tokens", key.Str("key"), "card[number]=4242424242424242");
        using HttpClient root = _proxy.Host.Client();
        using HttpResponseMessage operatorCall = await root.PostAsJsonAsync("/v1/tokens", new { tenant = "acme" });

        // The vault-key call reached Stripe with the real secret, and was audited as a Stripe call.
        LedgerEntry forwarded = Assert.Single(Fake.Ledger);
        Assert.Equal("POST", forwarded.Method);
        Assert.Equal("/v1/tokens", forwarded.Path);
        Assert.Equal("Bearer " + Fake.SecretKey, forwarded.Authorization);
        Assert.Equal(["4242424242424242"], forwarded.Form["card[number]"]);
        Assert.Equal(forwarded.Status, (int)stripe.StatusCode);
        TableEntity row = await _proxy.AuditRowAsync(stripe.Headers.GetValues("X-Keybrake-Audit-Id").Single());
        Assert.Equal("stripe", row.GetString("Vendor"));
        Assert.Equal("/v1/tokens", row.GetString("Path"));
        Assert.Equal("forwarded", row.GetString("Outcome"));

        // The operator token issued a tenant token and nothing more reached Stripe.
        Assert.Equal(HttpStatusCode.Created, operatorCall.StatusCode);
        Assert.StartsWith("kbo_", (await Json.ReadAsync(operatorCall)).Str("token"), StringComparison.Ordinal);
        Assert.Single(Fake.Ledger);
    }

    [Fact]
    public async Task ChargeAndRefund_AtTheRoot_AreAuditedExactlyAsThroughProxyStripe()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-2", "stripe", "POST /v1/payment_intents", "POST /v1/refunds");
        const string charge = "amount=2000&currency=usd&confirm=true&payment_method=pm_card_visa";

        using HttpResponseMessage atRoot = await SendAsync(HttpMethod.Post, "/v1/payment_intents", key.Str("key"), charge, idempotencyKey: "root-1");
        using HttpResponseMessage viaProxy = await SendAsync(HttpMethod.Post, "/proxy/stripe/v1/payment_intents", key.Str("key"), charge, idempotencyKey: "proxy-1");
        string intent = (await Json.ReadAsync(atRoot)).Str("id");
        using HttpResponseMessage refund = await SendAsync(HttpMethod.Post, "/v1/refunds", key.Str("key"), $"payment_intent={intent}&amount=500");

        Assert.Equal(HttpStatusCode.OK, atRoot.StatusCode);
        Assert.Equal(HttpStatusCode.OK, viaProxy.StatusCode);
        Assert.Equal(HttpStatusCode.OK, refund.StatusCode);
        Assert.Equal(["/v1/payment_intents", "/v1/payment_intents", "/v1/refunds"], Fake.Ledger.Select(e => e.Path));
        Assert.All(Fake.Ledger, e => Assert.Equal("Bearer " + Fake.SecretKey, e.Authorization));

        TableEntity root = await _proxy.AuditRowAsync(atRoot.Headers.GetValues("X-Keybrake-Audit-Id").Single());
        TableEntity proxied = await _proxy.AuditRowAsync(viaProxy.Headers.GetValues("X-Keybrake-Audit-Id").Single());
        foreach (string column in new[] { "Vendor", "Method", "Path", "Operation", "Outcome", "CostSource", "KeyId", "Label" })
        {
            Assert.Equal(proxied.GetString(column), root.GetString(column));
        }

        Assert.Equal(20_000_000, root.GetInt64("CostMicros"));
        Assert.Equal(proxied.GetInt64("CostMicros"), root.GetInt64("CostMicros"));
        TableEntity refunded = await _proxy.AuditRowAsync(refund.Headers.GetValues("X-Keybrake-Audit-Id").Single());
        Assert.Equal("refunds.create", refunded.GetString("Operation"));
        Assert.Equal(-5_000_000, refunded.GetInt64("CostMicros"));

        // The same cap counts both routes: the key's spend is the two charges (refunds never free cap).
        using HttpClient operatorClient = _proxy.Host.Client();
        JsonElement spent = await Json.ReadAsync(await operatorClient.GetAsync($"/v1/keys/{key.Str("id")}"));
        Assert.Equal(40m, spent.GetProperty("spent_today_usd").GetDecimal());
    }

    [Fact]
    public async Task Denials_AtTheRoot_UseStripesErrorShape_AndAreAudited()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-3", "stripe", "POST /v1/refunds");

        using HttpResponseMessage denied = await SendAsync(HttpMethod.Post, "/v1/payment_intents", key.Str("key"), "amount=100&currency=usd");
        using HttpResponseMessage hostile = await SendAsync(HttpMethod.Get, "/v1/customers/a%2Fb", key.Str("key"));
        using HttpResponseMessage badKey = await SendAsync(HttpMethod.Get, "/v1/customers", key.Str("key")[..^2] + "aa");

        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        JsonElement error = (await Json.ReadAsync(denied)).GetProperty("error");
        Assert.Equal("invalid_request_error", error.Str("type"));
        Assert.Equal("keybrake_endpoint_not_allowed", error.Str("code"));
        TableEntity row = await _proxy.AuditRowAsync(denied.Headers.GetValues("X-Keybrake-Audit-Id").Single());
        Assert.Equal("denied", row.GetString("Outcome"));
        Assert.Equal("/v1/payment_intents", row.GetString("Path"));
        Assert.Equal(HttpStatusCode.BadRequest, hostile.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, badKey.StatusCode);
        Assert.Equal("keybrake_invalid_vault_key", (await Json.ReadAsync(badKey)).GetProperty("error").Str("code"));
        Assert.Empty(Fake.Ledger);
    }

    [Fact]
    public async Task StripeMethodOnAnOperatorPath_GoesToStripe()
    {
        // GET /v1/tokens/{id} has no operator route (the catch-all takes it); GET /v1/keys/{id} has one (the
        // operator frame hands it over). Either way the vault key makes it a Stripe call.
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:cards:run-4", "stripe", "GET /v1/tokens/*", "GET /v1/keys/*");

        using HttpResponseMessage token = await SendAsync(HttpMethod.Get, "/v1/tokens/tok_123", key.Str("key"));
        using HttpResponseMessage keyRoute = await SendAsync(HttpMethod.Get, "/v1/keys/" + key.Str("id"), key.Str("key"));

        Assert.Equal(["/v1/tokens/tok_123", "/v1/keys/" + key.Str("id")], Fake.Ledger.Select(e => e.Path));
        Assert.True(token.Headers.Contains("X-Keybrake-Audit-Id"));
        Assert.True(keyRoute.Headers.Contains("X-Keybrake-Audit-Id"));
        Assert.DoesNotContain("spent_today_usd", await keyRoute.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryOperatorRoute_TakenWithAVaultKey_IsAStripeCall_NeverTheOperatorApi()
    {
        // Drift guard: every /v1 function, including ones added later, hands a vault key to Stripe.
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:none:run-5", "stripe", "GET /v1/nothing");
        var routes = DevHostApp.Functions
            .Where(f => f.Route!.StartsWith("v1/", StringComparison.Ordinal))
            .SelectMany(f => f.Methods!.Select(m => (Method: m, Path: "/" + System.Text.RegularExpressions.Regex.Replace(f.Route!, @"\{\*?[^}]+\}", "x"))))
            .ToList();
        Assert.True(routes.Count > 15, "expected the operator routes");

        foreach ((string method, string path) in routes)
        {
            using HttpResponseMessage response = await SendAsync(new HttpMethod(method), path, key.Str("key"), method is "GET" or "DELETE" ? null : "{}");
            string body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{method} {path}: {(int)response.StatusCode} {body}");
            Assert.Equal("keybrake_endpoint_not_allowed", JsonDocument.Parse(body).RootElement.GetProperty("error").Str("code"));
        }

        Assert.Equal(routes.Count, (await _proxy.AuditRowsAsync()).Count(r => r.GetString("Reason") == "endpoint_not_allowed"));
        Assert.Empty(Fake.Ledger);
    }

    [Fact]
    public async Task OtherCredentials_OnAnUnknownV1Path_GetTheOperatorApis404()
    {
        using HttpClient root = _proxy.Host.Client();
        using HttpClient anonymous = _proxy.Host.Client(string.Empty);
        using HttpClient stripeSecret = _proxy.Host.Client(Fake.SecretKey);

        foreach (HttpClient client in new[] { root, anonymous, stripeSecret })
        {
            HttpResponseMessage response = await client.GetAsync("/v1/payment_intents");
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("not_found", (await Json.ReadAsync(response)).GetProperty("error").Str("code"));
        }

        Assert.Equal(HttpStatusCode.OK, (await root.GetAsync("/v1/keys")).StatusCode);
        Assert.Empty(Fake.Ledger);
    }

    [Fact]
    public async Task OnAStripeHostName_EveryV1Request_IsAStripeCall()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-6", "stripe", "POST /v1/payment_intents");

        using HttpResponseMessage charge = await SendAsync(HttpMethod.Post, "/v1/payment_intents", key.Str("key"), "amount=100&currency=usd", host: StripeHostName);
        using HttpResponseMessage rootOnStripeHost = await SendAsync(HttpMethod.Get, "/v1/keys", _proxy.Host.RootToken, host: "STRIPE.keybrake.test");
        using HttpResponseMessage rootElsewhere = await SendAsync(HttpMethod.Get, "/v1/keys", _proxy.Host.RootToken, host: "keybrake.test");

        Assert.Equal(HttpStatusCode.OK, charge.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, rootOnStripeHost.StatusCode);
        Assert.Equal("keybrake_invalid_vault_key", (await Json.ReadAsync(rootOnStripeHost)).GetProperty("error").Str("code"));
        Assert.Equal(HttpStatusCode.OK, rootElsewhere.StatusCode);
        Assert.Single(Fake.Ledger);
    }

    [Fact]
    public void CatchAll_SortsAfterEveryFunctionWhoseRoutesItCovers()
    {
        // The Functions host takes the first route in function-name order (OrdinalIgnoreCase) that matches.
        List<string> shadowable = DevHostApp.Functions
            .Where(f => f.Route!.StartsWith("v1/", StringComparison.Ordinal) && f.Name != StripeHostFunction.CatchAllName)
            .Select(f => f.Name)
            .Where(name => StringComparer.OrdinalIgnoreCase.Compare(name, StripeHostFunction.CatchAllName) > 0)
            .ToList();
        Assert.Empty(shadowable);
        Assert.Contains(DevHostApp.Functions, f => f.Name == StripeHostFunction.CatchAllName && f.Route == "v1/{*path}");
    }

    private async Task<HttpResponseMessage> SendAsync(
        HttpMethod method, string pathAndQuery, string credential, string? form = null, string? idempotencyKey = null, string? host = null)
    {
        using var client = new HttpClient { BaseAddress = _proxy.Host.BaseAddress };
        using var request = new HttpRequestMessage(method, pathAndQuery);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", credential);
        if (form is not null)
        {
            request.Content = new StringContent(form, System.Text.Encoding.UTF8, form.StartsWith('{') ? "application/json" : "application/x-www-form-urlencoded");
        }

        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        if (host is not null)
        {
            request.Headers.Host = host;
        }

        HttpResponseMessage response = await client.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }
}
