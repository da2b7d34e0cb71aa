using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Keybrake.Sandbox;
using Keybrake.Tests.Support;
using Stripe;
using Twilio.Clients;
using Twilio.Exceptions;
using Twilio.Rest.Api.V2010.Account;

namespace Keybrake.Tests.Hosts;

/// <summary>
/// The product as a user meets it, over HTTP only: written once, run against the real Functions host and the
/// development host (one subclass each). Each test uses tenants of its own, so tests share one running app.
/// </summary>
public abstract class BlackBoxSuite<TApp>(TApp app) : IClassFixture<TApp>
    where TApp : AppUnderTest
{
    protected TApp App { get; } = app;

    private FakeVendors Vendors => App.Vendors;

    [Fact]
    public async Task HealthOpenApiAndDashboard_AreServedWithoutCredentials()
    {
        using HttpClient anonymous = Client(string.Empty);

        Assert.Equal("ok", (await Json.ReadAsync(await anonymous.GetAsync("/health"))).Str("status"));
        JsonElement openApi = await Json.ReadAsync(await anonymous.GetAsync("/openapi.json"));
        Assert.StartsWith("3.1", openApi.Str("openapi"), StringComparison.Ordinal);
        Assert.True(openApi.GetProperty("paths").TryGetProperty("/v1/keys", out _));
        HttpResponseMessage page = await anonymous.GetAsync("/dashboard/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("<html", await page.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
        HttpResponseMessage script = await anonymous.GetAsync("/dashboard/dashboard.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.True((await script.Content.ReadAsByteArrayAsync()).Length > 10_000, "the bundle (with Chart.js) is served whole");
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/v1/keys")).StatusCode);
    }

    [Fact]
    public async Task StockResults_CarryTheHeadersAndValidatorsUsersRelyOn()
    {
        using HttpClient anonymous = Client(string.Empty);
        using HttpClient root = Client();

        // Operator answers (successes and errors) are never cached: they carry spend, tokens and settings.
        HttpResponseMessage keys = await root.GetAsync("/v1/keys?label_prefix=nobody:");
        Assert.Equal(HttpStatusCode.OK, keys.StatusCode);
        Assert.True(keys.Headers.CacheControl?.NoStore, "a 200 of the operator API is no-store");
        Assert.Equal("application/json", keys.Content.Headers.ContentType?.MediaType);
        HttpResponseMessage refused = await anonymous.GetAsync("/v1/keys");
        Assert.True(refused.Headers.CacheControl?.NoStore, "a 401 of the operator API is no-store");
        Assert.Equal("unauthorized", (await Json.ReadAsync(refused)).GetProperty("error").Str("code"));

        HttpResponseMessage csv = await root.GetAsync("/v1/spend?format=csv&label_prefix=nobody:");
        Assert.Equal(("text/csv", "tenant,cost_usd"), (csv.Content.Headers.ContentType?.MediaType, (await csv.Content.ReadAsStringAsync())[..15]));

        Assert.Equal("application/json", (await anonymous.GetAsync("/openapi.json")).Content.Headers.ContentType?.MediaType);

        // The dashboard revalidates with its entity tag: an unchanged file is a 304 with no body, still under the CSP.
        HttpResponseMessage page = await anonymous.GetAsync("/dashboard/");
        EntityTagHeaderValue etag = page.Headers.ETag ?? throw new InvalidOperationException("the page has no ETag");
        Assert.Contains("default-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        using var revalidate = new HttpRequestMessage(HttpMethod.Get, "/dashboard/");
        revalidate.Headers.IfNoneMatch.Add(etag);
        HttpResponseMessage notModified = await anonymous.SendAsync(revalidate);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Empty(await notModified.Content.ReadAsByteArrayAsync());
        HttpResponseMessage missing = await anonymous.GetAsync("/dashboard/nope.js");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("DENY", missing.Headers.GetValues("X-Frame-Options").Single());
    }

    [Fact]
    public async Task KeyLifecycle_IssueGetListRevoke_ThenTheKeyIsRefusedInStripesShape()
    {
        string tenant = NewTenant();
        JsonElement key = await IssueKeyAsync($"{tenant}:billing-agent:checkout:run-1", "stripe", 20m, "POST /v1/payment_intents");
        using HttpClient root = Client();

        JsonElement one = await Json.ReadAsync(await root.GetAsync($"/v1/keys/{key.Str("id")}"));
        Assert.Equal(("active", 20m), (one.Str("status"), one.GetProperty("remaining_usd").GetDecimal()));
        Assert.False(one.TryGetProperty("key", out _));
        JsonElement list = await Json.ReadAsync(await root.GetAsync($"/v1/keys?label_prefix={tenant}:"));
        Assert.Equal([key.Str("id")], list.GetProperty("keys").EnumerateArray().Select(k => k.Str("id")));
        Assert.Equal(HttpStatusCode.OK, (await root.DeleteAsync($"/v1/keys/{key.Str("id")}")).StatusCode);

        StripeException refused = await Assert.ThrowsAsync<StripeException>(() => Charge(key.Str("key"), 100));
        Assert.Equal((401, "keybrake_vault_key_revoked"), ((int)refused.HttpStatusCode, refused.StripeError.Code));
        Assert.Equal("revoked", (await Json.ReadAsync(await root.GetAsync($"/v1/keys/{key.Str("id")}"))).Str("status"));
    }

    [Fact]
    public async Task TenantToken_IssuesAndSeesOnlyItsOwnTenant()
    {
        string tenant = NewTenant();
        string other = tenant + "x";
        await IssueKeyAsync($"{other}:billing-agent:checkout:run-1", "stripe", 5m, "POST /v1/payment_intents");
        using HttpClient root = Client();
        HttpResponseMessage issued = await root.PostAsJsonAsync("/v1/tokens", new { tenant });
        Assert.Equal(HttpStatusCode.Created, issued.StatusCode);
        using HttpClient scoped = Client((await Json.ReadAsync(issued)).Str("token"));

        HttpResponseMessage own = await scoped.PostAsJsonAsync("/v1/keys", new
        {
            label = $"{tenant}:billing-agent:checkout:run-2", vendor = "stripe", daily_usd_cap = 5, allowed_endpoints = new[] { "POST /v1/payment_intents" }, expires_in = "1h",
        });
        HttpResponseMessage foreign = await scoped.PostAsJsonAsync("/v1/keys", new
        {
            label = $"{other}:billing-agent:checkout:run-3", vendor = "stripe", daily_usd_cap = 5, allowed_endpoints = new[] { "POST /v1/payment_intents" }, expires_in = "1h",
        });

        Assert.Equal(HttpStatusCode.Created, own.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, foreign.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await scoped.GetAsync($"/v1/keys?label_prefix={other}:")).StatusCode);
        JsonElement mine = await Json.ReadAsync(await scoped.GetAsync($"/v1/keys?label_prefix={tenant}:"));
        Assert.All(mine.GetProperty("keys").EnumerateArray(), k => Assert.StartsWith(tenant + ":", k.Str("label"), StringComparison.Ordinal));
        Assert.Single(mine.GetProperty("keys").EnumerateArray());
    }

    [Fact]
    public async Task StripeNet_ChargesThroughTheProxy_WithTheRealSecret_AndTheKeyCountsIt()
    {
        string tenant = NewTenant();
        JsonElement key = await IssueKeyAsync($"{tenant}:billing-agent:checkout:run-1", "stripe", 50m, "POST /v1/payment_intents");

        PaymentIntent intent = await Charge(key.Str("key"), 2000, order: tenant);

        Assert.Equal(("succeeded", 2000L), (intent.Status, intent.AmountReceived));
        LedgerEntry entry = Assert.Single(Vendors.Stripe.Ledger, e => e.ObjectId == intent.Id);
        Assert.Equal("Bearer " + Vendors.Stripe.SecretKey, entry.Authorization);
        Assert.DoesNotContain(key.Str("key"), string.Join('\n', entry.Headers.Values), StringComparison.Ordinal);
        JsonElement after = await GetKeyAsync(key.Str("id"));
        Assert.Equal((20m, 30m), (after.GetProperty("spent_today_usd").GetDecimal(), after.GetProperty("remaining_usd").GetDecimal()));
    }

    [Fact]
    public async Task StripeAtTheAppsRoot_TheCredentialDecides_EvenOnAnOperatorRoute()
    {
        string tenant = NewTenant();
        JsonElement key = await IssueKeyAsync($"{tenant}:billing-agent:checkout:run-1", "stripe", 50m, "POST /v1/payment_intents", "POST /v1/tokens");
        var atRoot = new StripeClient(key.Str("key"), apiBase: App.BaseAddress.ToString().TrimEnd('/'));

        PaymentIntent intent = await atRoot.V1.PaymentIntents.CreateAsync(new PaymentIntentCreateOptions
        {
            Amount = 500, Currency = "usd", Confirm = true, PaymentMethod = "pm_card_visa",
        });
        using HttpClient agent = Client(key.Str("key"));
        HttpResponseMessage stripeToken = await agent.PostAsync("/v1/tokens", new FormUrlEncodedContent(new Dictionary<string, string> { ["card[number]"] = "4242424242424242" }));
        using HttpClient root = Client();
        HttpResponseMessage operatorToken = await root.PostAsJsonAsync("/v1/tokens", new { tenant });

        Assert.Single(Vendors.Stripe.Ledger, e => e.ObjectId == intent.Id);
        Assert.Equal(5m, (await GetKeyAsync(key.Str("id"))).GetProperty("spent_today_usd").GetDecimal());
        Assert.Contains(Vendors.Stripe.Ledger, e => e.Path == "/v1/tokens" && e.Authorization == "Bearer " + Vendors.Stripe.SecretKey);
        Assert.NotEqual(HttpStatusCode.Created, stripeToken.StatusCode);
        Assert.Equal(HttpStatusCode.Created, operatorToken.StatusCode);
        Assert.StartsWith("kbo_", (await Json.ReadAsync(operatorToken)).Str("token"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TwilioSdk_SendsAnSmsThroughTheProxy_AsTheRealAccount()
    {
        string tenant = NewTenant();
        JsonElement key = await IssueKeyAsync($"{tenant}:notify-agent:sms:run-1", "twilio", 1m, "POST /2010-04-01/Accounts/*/Messages");
        TwilioRestClient client = TwilioClient(key.Str("key"));

        MessageResource message = await MessageResource.CreateAsync(
            to: new Twilio.Types.PhoneNumber("+15145535858"), from: new Twilio.Types.PhoneNumber("+15149002890"), body: "your code is " + tenant, client: client);

        LedgerEntry entry = Assert.Single(Vendors.Twilio.Ledger, e => e.ObjectId == message.Sid);
        Assert.Equal(201, entry.Status);
        Assert.Contains($"/Accounts/{Vendors.Twilio.AccountSid}/Messages.json", entry.Path, StringComparison.Ordinal);
        Assert.DoesNotContain(key.Str("key"), entry.Authorization ?? string.Empty, StringComparison.Ordinal);
        Assert.Equal(0.0083m, (await GetKeyAsync(key.Str("id"))).GetProperty("spent_today_usd").GetDecimal());

        ApiException refused = await Assert.ThrowsAsync<ApiException>(() => IncomingPhoneNumberResource.ReadAsync(client: client));
        Assert.Equal(403, refused.Status);
    }

    [Fact]
    public async Task Resend_SingleAndBatchEmails_AreCountedPerEmail_AndDenialsAreInResendsShape()
    {
        string tenant = NewTenant();
        JsonElement key = await IssueKeyAsync($"{tenant}:notify-agent:receipts:run-1", "resend", 1m, "POST /emails", "POST /emails/batch");
        using HttpClient agent = Client(key.Str("key"), "/proxy/resend/");
        const string one = """{"from":"a@example.com","to":"b@example.com","subject":"hi","text":"hello"}""";
        string three = "[" + string.Join(',', Enumerable.Repeat(one, 3)) + "]";

        HttpResponseMessage single = await agent.PostAsync("emails", new StringContent(one, Encoding.UTF8, "application/json"));
        HttpResponseMessage batch = await agent.PostAsync("emails/batch", new StringContent(three, Encoding.UTF8, "application/json"));
        HttpResponseMessage denied = await agent.GetAsync("domains");

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (single.StatusCode, batch.StatusCode));
        Assert.Equal(0.0036m, (await GetKeyAsync(key.Str("id"))).GetProperty("spent_today_usd").GetDecimal());
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        JsonElement error = await Json.ReadAsync(denied);
        Assert.Equal((403, "keybrake_endpoint_not_allowed"), (error.GetProperty("statusCode").GetInt32(), error.Str("name")));
    }

    [Fact]
    public async Task StripeDenials_RaiseTheSdksOwnException_WithKeybrakesCode_AndNothingReachesStripe()
    {
        string tenant = NewTenant();
        JsonElement key = await IssueKeyAsync($"{tenant}:billing-agent:checkout:run-1", "stripe", 10m, "POST /v1/payment_intents");
        int before = Vendors.Stripe.Ledger.Count(e => e.Form.TryGetValue("metadata[order]", out var o) && o.Contains(tenant));

        StripeException overCap = await Assert.ThrowsAsync<StripeException>(() => Charge(key.Str("key"), 1001, order: tenant));
        StripeException notAllowed = await Assert.ThrowsAsync<StripeException>(() =>
            StripeClient(key.Str("key")).V1.Refunds.CreateAsync(new RefundCreateOptions { PaymentIntent = "pi_123" }));

        Assert.Equal((429, "keybrake_cap_exceeded"), ((int)overCap.HttpStatusCode, overCap.StripeError.Code));
        Assert.Equal((403, "keybrake_endpoint_not_allowed"), ((int)notAllowed.HttpStatusCode, notAllowed.StripeError.Code));
        Assert.Equal(before, Vendors.Stripe.Ledger.Count(e => e.Form.TryGetValue("metadata[order]", out var o) && o.Contains(tenant)));
    }

    [Fact]
    public async Task ALargeVendorAnswer_ReachesTheAgentWhole()
    {
        string tenant = NewTenant();
        string marker = "large-" + tenant;
        using var direct = new HttpClient { BaseAddress = Vendors.Stripe.BaseUrl };
        direct.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Vendors.Stripe.SecretKey);
        for (int i = 0; i < 10; i++)
        {
            HttpResponseMessage created = await direct.PostAsync("v1/payment_intents", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                // Created by the platform for the tenant, which owns it on the shared account through this metadata.
                ["amount"] = "100", ["currency"] = "usd", ["description"] = marker + new string('x', 120_000), ["metadata[keybrake_tenant]"] = tenant,
            }));
            Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        }

        JsonElement key = await IssueKeyAsync($"{tenant}:reporting-agent:export:run-1", "stripe", 1m, "GET /v1/payment_intents");
        using HttpClient agent = Client(key.Str("key"), "/proxy/stripe/");
        using HttpResponseMessage response = await agent.GetAsync("v1/payment_intents?limit=10", HttpCompletionOption.ResponseHeadersRead);
        byte[] body = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(body.Length > 1_200_000, $"{body.Length} bytes");
        JsonElement list = JsonDocument.Parse(body).RootElement;
        Assert.Equal(10, list.GetProperty("data").EnumerateArray().Count(pi => pi.Str("description").StartsWith(marker, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task ARequestBodyOverOneMegabyte_Is413InStripesShape_AndNotForwarded()
    {
        string tenant = NewTenant();
        JsonElement key = await IssueKeyAsync($"{tenant}:billing-agent:checkout:run-1", "stripe", 10m, "POST /v1/payment_intents");
        using HttpClient agent = Client(key.Str("key"), "/proxy/stripe/");
        int before = Vendors.Stripe.Ledger.Count;
        string form = $"amount=100&currency=usd&metadata[order]={tenant}&description=" + new string('x', 1024 * 1024);

        HttpResponseMessage response = await agent.PostAsync("v1/payment_intents", new StringContent(form, Encoding.ASCII, "application/x-www-form-urlencoded"));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("keybrake_request_too_large", (await Json.ReadAsync(response)).GetProperty("error").Str("code"));
        Assert.DoesNotContain(Vendors.Stripe.Ledger.Skip(before), e => e.Body.Contains(tenant, StringComparison.Ordinal));
    }

    [Fact]
    public async Task TwoInstancesRacingOnOneKey_SpendExactlyTheCap()
    {
        const int calls = 60;
        string tenant = NewTenant();
        JsonElement key = await IssueKeyAsync($"{tenant}:billing-agent:checkout:race", "stripe", 20m, "POST /v1/payment_intents");
        await using HostProcess second = await HostProcess.StartAsync(App.Settings);
        using var gate = new SemaphoreSlim(0);
        using HttpClient first = new() { BaseAddress = App.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
        using HttpClient other = new() { BaseAddress = second.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };

        Task<HttpStatusCode>[] racing = Enumerable.Range(0, calls).Select(async i =>
        {
            await gate.WaitAsync();
            using var request = new HttpRequestMessage(HttpMethod.Post, "/proxy/stripe/v1/payment_intents")
            {
                Content = new FormUrlEncodedContent(new Dictionary<string, string>
                {
                    ["amount"] = "100", ["currency"] = "usd", ["confirm"] = "true", ["payment_method"] = "pm_card_visa", ["metadata[order]"] = $"{tenant}-{i}",
                }),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key.Str("key"));
            using HttpResponseMessage response = await (i % 2 == 0 ? first : other).SendAsync(request);
            return response.StatusCode;
        }).ToArray();
        gate.Release(calls);
        HttpStatusCode[] statuses = await Task.WhenAll(racing);

        Assert.Equal(20, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(calls - 20, statuses.Count(s => s == HttpStatusCode.TooManyRequests));
        long charged = Vendors.Stripe.Ledger
            .Where(e => e.Status == 200 && e.Form.TryGetValue("metadata[order]", out var o) && o[0].StartsWith(tenant + "-", StringComparison.Ordinal))
            .Sum(e => e.AmountMinor ?? 0);
        Assert.Equal(2000, charged);
        Assert.Equal(0m, (await GetKeyAsync(key.Str("id"))).GetProperty("remaining_usd").GetDecimal());
    }

    [Fact]
    public async Task Timers_RunOnTheirOwn_AndABudgetAlertReachesTheWebhook()
    {
        string tenant = NewTenant();
        using HttpClient root = Client();
        Assert.Equal(HttpStatusCode.OK, (await root.PutAsJsonAsync($"/v1/budgets/{tenant}:", new { daily_usd = 10, alert_thresholds = new[] { 0.5 } })).StatusCode);
        JsonElement key = await IssueKeyAsync($"{tenant}:billing-agent:checkout:run-1", "stripe", 50m, "POST /v1/payment_intents");

        await Charge(key.Str("key"), 600, order: tenant);

        await WaitUntilAsync(() => App.Webhook.Received.Any(d => d.Body.Contains(tenant + ":", StringComparison.Ordinal)), "the alert reaches the webhook");
        (IReadOnlyDictionary<string, string> headers, string body, _) = App.Webhook.Received.First(d => d.Body.Contains(tenant + ":", StringComparison.Ordinal));
        Assert.Contains("budget_threshold", body, StringComparison.Ordinal);
        Assert.Contains(headers.Keys, h => h.Contains("signature", StringComparison.OrdinalIgnoreCase));
        await WaitUntilAsync(() => new[] { "DailyRollup", "Reconciler", "BudgetAlerts", "DeliverAlerts", "ExportOutbox" }.All(t => App.TimerRuns(t) > 0),
            "every timer has run at least once");
    }

    [Fact]
    public async Task QueueFanOut_TheReconcilersWorkItemSettlesALateTwilioPrice()
    {
        string tenant = NewTenant();
        JsonElement key = await IssueKeyAsync($"{tenant}:notify-agent:sms:run-1", "twilio", 1m, "POST /2010-04-01/Accounts/*/Messages");
        MessageResource message = await MessageResource.CreateAsync(
            to: new Twilio.Types.PhoneNumber("+15145535858"), from: new Twilio.Types.PhoneNumber("+15149002890"), body: "late price " + tenant,
            client: TwilioClient(key.Str("key")));
        Assert.True(Vendors.Twilio.Settle(message.Sid));

        // The Reconciler timer only enqueues its tenant-days; the ReconcileWork queue function reads the price and settles the row.
        using HttpClient root = Client();
        string costSource = string.Empty;
        for (int i = 0; i < 120 && costSource != "settled"; i++)
        {
            await Task.Delay(500);
            JsonElement audit = await Json.ReadAsync(await root.GetAsync($"/v1/audit?label_prefix={tenant}:"));
            costSource = audit.GetProperty("entries").EnumerateArray().Single().Str("cost_source");
        }

        Assert.True(costSource == "settled", App.RecentOutput[^Math.Min(App.RecentOutput.Length, 4000)..]);

        // The host logs the function's success after the function has settled the row: the poll above can see the row first.
        await WaitUntilAsync(() => App.TimerRuns("ReconcileWork") > 0, "the queue-triggered function ran");
    }

    /// <summary>What the timers do happens in the background: wait up to a minute, then show the app's recent output.</summary>
    private Task WaitUntilAsync(Func<bool> condition, string what) => Eventually.True(
        condition, what, TimeSpan.FromSeconds(60), () => App.RecentOutput[^Math.Min(App.RecentOutput.Length, 4000)..], TimeSpan.FromMilliseconds(100));

    private static string NewTenant() => "t" + Guid.NewGuid().ToString("N")[..12];

    private HttpClient Client(string? token = null, string path = "/")
    {
        var client = new HttpClient { BaseAddress = new Uri(App.BaseAddress, path), Timeout = TimeSpan.FromMinutes(2) };
        if (token != string.Empty)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token ?? App.RootToken);
        }

        return client;
    }

    private async Task<JsonElement> IssueKeyAsync(string label, string vendor, decimal cap, params string[] endpoints)
    {
        using HttpClient root = Client();
        HttpResponseMessage response = await root.PostAsJsonAsync("/v1/keys", new
        {
            label, vendor, daily_usd_cap = cap, allowed_endpoints = endpoints, expires_in = "1h",
        });
        JsonElement body = await Json.ReadAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.Created, body.ToString());
        return body;
    }

    private async Task<JsonElement> GetKeyAsync(string id)
    {
        using HttpClient root = Client();
        return await Json.ReadAsync(await root.GetAsync($"/v1/keys/{id}"));
    }

    private StripeClient StripeClient(string vaultKey) =>
        new(vaultKey, apiBase: new Uri(App.BaseAddress, "/proxy/stripe").ToString().TrimEnd('/'));

    private Task<PaymentIntent> Charge(string vaultKey, long cents, string? order = null) =>
        StripeClient(vaultKey).V1.PaymentIntents.CreateAsync(new PaymentIntentCreateOptions
        {
            Amount = cents, Currency = "usd", Confirm = true, PaymentMethod = "pm_card_visa",
            Metadata = order is null ? null : new Dictionary<string, string> { ["order"] = order },
        });

    private TwilioRestClient TwilioClient(string vaultKey) => new(
        "ACffffffffffffffffffffffffffffffff", vaultKey,
        httpClient: new Twilio.Http.SystemNetHttpClient(BaseUrlRewriteHandler.CreateClient(new Uri(App.BaseAddress, "/proxy/twilio/"))));
}

/// <summary>The black-box suite under the real Azure Functions host: what Azure runs.</summary>
public sealed class RealHostSuite(RealFunctionsHost app) : BlackBoxSuite<RealFunctionsHost>(app);

/// <summary>The same suite under the development host, which must behave the same where users can see it.</summary>
public sealed class DevHostSuite(DevHostProcess app) : BlackBoxSuite<DevHostProcess>(app);
