using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Azure.Data.Tables;
using Keybrake.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Stripe;

namespace Keybrake.Tests.Caps;

public sealed class CapBehaviourTests : IAsyncLifetime
{
    private ProxyHost _proxy = null!;

    public async Task InitializeAsync() => _proxy = await ProxyHost.StartAsync();

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    [Fact]
    public async Task CapExceeded_IsAReadableStripeErrorWithCapSpentAndRemaining_AndNothingIsForwarded()
    {
        JsonElement key = await _proxy.Host.IssueKeyAsync("acme:billing-agent:checkout:run-1", "stripe", cap: 25m, endpoints: ["POST /v1/payment_intents"]);
        StripeClient stripe = Client(key.Str("key"));
        await ChargeAsync(stripe, 2000);

        StripeException refused = await Assert.ThrowsAsync<StripeException>(() => ChargeAsync(stripe, 600));

        Assert.Equal(429, (int)refused.HttpStatusCode);
        Assert.Equal("keybrake_cap_exceeded", refused.StripeError.Code);
        Assert.Contains("25.000000", refused.Message, StringComparison.Ordinal);
        Assert.Contains("spent 20.000000", refused.Message, StringComparison.Ordinal);
        Assert.Contains("remaining 5.000000", refused.Message, StringComparison.Ordinal);
        Assert.Single(_proxy.Vendors.Stripe.Ledger);
        await ChargeAsync(stripe, 500);
        TableEntity denial = (await _proxy.AuditRowsAsync()).Single(r => r.GetString("Outcome") == "denied");
        Assert.Equal(("cap_exceeded", 429), (denial.GetString("Reason"), denial.GetInt32("Status")));
    }

    [Fact]
    public async Task FirstCallLargerThanTheCap_IsRefusedWithoutReachingStripe()
    {
        JsonElement key = await _proxy.Host.IssueKeyAsync("acme:billing-agent:checkout:run-0", "stripe", cap: 5m, endpoints: ["POST /v1/payment_intents"]);

        StripeException refused = await Assert.ThrowsAsync<StripeException>(() => ChargeAsync(Client(key.Str("key")), 600));

        Assert.Equal("keybrake_cap_exceeded", refused.StripeError.Code);
        Assert.Empty(_proxy.Vendors.Stripe.Ledger);
    }

    [Fact]
    public async Task RefundAfterHittingTheCap_DoesNotFreeCap()
    {
        JsonElement key = await _proxy.Host.IssueKeyAsync("acme:billing-agent:checkout:run-2", "stripe", cap: 10m, endpoints: ["POST /v1/payment_intents", "POST /v1/refunds"]);
        StripeClient stripe = Client(key.Str("key"));
        PaymentIntent intent = await ChargeAsync(stripe, 1000);

        await stripe.V1.Refunds.CreateAsync(new RefundCreateOptions { PaymentIntent = intent.Id });
        StripeException refused = await Assert.ThrowsAsync<StripeException>(() => ChargeAsync(stripe, 100));

        Assert.Equal("keybrake_cap_exceeded", refused.StripeError.Code);
        JsonElement view = await GetKeyAsync(key.Str("id"));
        Assert.Equal(10m, view.GetProperty("spent_today_usd").GetDecimal());
        Assert.Equal(0m, view.GetProperty("remaining_usd").GetDecimal());
        List<TableEntity> rows = await _proxy.AuditRowsAsync();
        Assert.Equal(0, rows.Sum(r => r.GetString("Outcome") == "forwarded" ? r.GetInt64("CostMicros") : 0));
    }

    [Fact]
    public async Task ReplayedIdempotencyKey_IsReservedAndCountedOnce()
    {
        JsonElement key = await _proxy.Host.IssueKeyAsync("acme:billing-agent:checkout:run-3", "stripe", cap: 50m, endpoints: ["POST /v1/payment_intents"]);
        StripeClient stripe = Client(key.Str("key"));
        var options = new RequestOptions { IdempotencyKey = "order-77" };

        PaymentIntent first = await ChargeAsync(stripe, 3000, options);
        PaymentIntent replay = await ChargeAsync(stripe, 3000, options);

        Assert.Equal(first.Id, replay.Id);
        Assert.Equal(1, _proxy.Vendors.Stripe.Ledger.Count(e => !e.Replayed));
        Assert.Equal(30m, (await GetKeyAsync(key.Str("id"))).GetProperty("spent_today_usd").GetDecimal());
        List<TableEntity> rows = await _proxy.AuditRowsAsync();
        Assert.Equal(2, rows.Count);
        Assert.Equal(30_000_000, rows.Sum(r => r.GetInt64("CostMicros")));
        Assert.Equal("idempotent_replay", rows.Single(r => r.GetInt64("CostMicros") == 0).GetString("Reason"));
    }

    [Fact]
    public async Task RefusedCallWithAnIdempotencyKey_CanBeRetriedAndIsThenReserved()
    {
        JsonElement key = await _proxy.Host.IssueKeyAsync("acme:billing-agent:checkout:run-4", "stripe", cap: 50m, endpoints: ["POST /v1/payment_intents"]);
        StripeClient stripe = Client(key.Str("key"));
        var options = new RequestOptions { IdempotencyKey = "order-78" };
        _proxy.Vendors.Stripe.Options.FailWithStatus = 429;
        await Assert.ThrowsAsync<StripeException>(() => ChargeAsync(stripe, 1500, options));
        _proxy.Vendors.Stripe.Options.FailWithStatus = null;

        await ChargeAsync(stripe, 1500, options);

        Assert.Equal(15m, (await GetKeyAsync(key.Str("id"))).GetProperty("spent_today_usd").GetDecimal());
        Assert.DoesNotContain(await _proxy.AuditRowsAsync(), r => r.GetString("Reason") == "idempotent_replay");
    }

    [Fact]
    public async Task LoopFiringTheSameCharge40Times_IsBrokenAfterFive()
    {
        JsonElement key = await _proxy.Host.IssueKeyAsync("acme:billing-agent:checkout:run-5", "stripe", cap: 5000m, endpoints: ["POST /v1/payment_intents"]);
        StripeClient stripe = Client(key.Str("key"));
        var statuses = new List<int>();
        for (int i = 0; i < 40; i++)
        {
            try
            {
                await ChargeAsync(stripe, 4200);
                statuses.Add(200);
            }
            catch (StripeException e)
            {
                Assert.Equal("keybrake_loop_detected", e.StripeError.Code);
                statuses.Add((int)e.HttpStatusCode);
            }
        }

        Assert.Equal(5, statuses.Count(s => s == 200));
        Assert.Equal(35, statuses.Count(s => s == 429));
        Assert.Equal(5, _proxy.Vendors.Stripe.Ledger.Count);
        Assert.Equal(35, (await _proxy.AuditRowsAsync()).Count(r => r.GetString("Reason") == "loop_detected"));
        Keybrake.Domain.Alerts.Alert alert = Assert.Single(await _proxy.Host.Services.GetRequiredService<Keybrake.Domain.Alerts.IAlertStore>()
            .ListAsync("acme", _proxy.Host.Time.GetUtcNow().AddHours(-1), CancellationToken.None));
        Assert.Equal(("loop_detected", "acme:billing-agent:checkout:run-5", "pending"), (alert.Kind, alert.Subject, alert.DeliveryState));

        // A different charge is not the loop, and the window slides.
        await ChargeAsync(stripe, 4300);
        _proxy.Host.Time.Advance(TimeSpan.FromSeconds(61));
        await ChargeAsync(stripe, 4200);
        Assert.Equal(7, _proxy.Vendors.Stripe.Ledger.Count);
    }

    [Fact]
    public async Task LoopBreaker_CanBeSetPerKeyAtIssueTime()
    {
        using HttpClient root = _proxy.Host.Client();
        HttpResponseMessage issued = await root.PostAsJsonAsync("/v1/keys", new
        {
            label = "acme:billing-agent:retry-heavy:run-6", vendor = "stripe", daily_usd_cap = 500, allowed_endpoints = new[] { "POST /v1/payment_intents" },
            expires_in = "1h", loop_max_calls = 2, loop_window_seconds = 10,
        });
        JsonElement key = await Json.ReadAsync(issued);
        Assert.Equal(2, key.GetProperty("loop_breaker").GetProperty("max_calls").GetInt32());
        StripeClient stripe = Client(key.Str("key"));

        await ChargeAsync(stripe, 100);
        await ChargeAsync(stripe, 100);
        StripeException third = await Assert.ThrowsAsync<StripeException>(() => ChargeAsync(stripe, 100));
        _proxy.Host.Time.Advance(TimeSpan.FromSeconds(11));
        await ChargeAsync(stripe, 100);

        Assert.Equal("keybrake_loop_detected", third.StripeError.Code);
        Assert.Equal(3, _proxy.Vendors.Stripe.Ledger.Count);
        Assert.Equal(HttpStatusCode.BadRequest, (await root.PostAsJsonAsync("/v1/keys", new
        {
            label = "acme:x", vendor = "stripe", daily_usd_cap = 5, allowed_endpoints = new[] { "/v1/**" }, expires_in = "1h", loop_max_calls = 0, loop_window_seconds = 10,
        })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await root.PostAsJsonAsync("/v1/keys", new
        {
            label = "acme:x", vendor = "stripe", daily_usd_cap = 5, allowed_endpoints = new[] { "/v1/**" }, expires_in = "1h", loop_max_calls = 3,
        })).StatusCode);
    }

    [Fact]
    public async Task Budget_RejectsBadInputAndOtherTenantsPrefixes()
    {
        string acmeToken = await _proxy.Host.IssueTenantTokenAsync("acme");
        using HttpClient acme = _proxy.Host.Client(acmeToken);
        using HttpClient root = _proxy.Host.Client();

        Assert.Equal(HttpStatusCode.OK, (await acme.PutAsJsonAsync("/v1/budgets/acme:billing-agent", new { daily_usd = 5 })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await acme.PutAsJsonAsync("/v1/budgets/globex:", new { daily_usd = 5 })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await acme.PutAsJsonAsync("/v1/budgets/*", new { daily_usd = 5 })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await root.PutAsJsonAsync("/v1/budgets/acme:", new { })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await root.PutAsJsonAsync("/v1/budgets/acme:", new { daily_usd = -1 })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await root.PutAsJsonAsync("/v1/budgets/acme:", new { daily_usd = 1, alert_thresholds = new[] { 0 } })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await root.PutAsJsonAsync("/v1/budgets/*", new { monthly_usd = 1000, alert_thresholds = new[] { 0.8, 0.5 } })).StatusCode);

        JsonElement listed = await Json.ReadAsync(await root.GetAsync("/v1/budgets"));
        Assert.Equal(["", "acme:billing-agent"], listed.GetProperty("budgets").EnumerateArray().Select(b => b.Str("label_prefix")).Order());
        JsonElement acmeListed = await Json.ReadAsync(await acme.GetAsync("/v1/budgets"));
        Assert.Equal("acme:billing-agent", Assert.Single(acmeListed.GetProperty("budgets").EnumerateArray()).Str("label_prefix"));
    }

    [Fact]
    public async Task MonthlyAndPlatformBudgets_AreEnforcedToo()
    {
        using HttpClient root = _proxy.Host.Client();
        await root.PutAsJsonAsync("/v1/budgets/*", new { monthly_usd = 12 });
        JsonElement acme = await _proxy.Host.IssueKeyAsync("acme:billing-agent:checkout:run-6", "stripe", cap: 50m, endpoints: ["POST /v1/payment_intents"]);
        JsonElement globex = await _proxy.Host.IssueKeyAsync("globex:billing-agent:checkout:run-6", "stripe", cap: 50m, endpoints: ["POST /v1/payment_intents"]);

        await ChargeAsync(Client(acme.Str("key")), 700);
        StripeException refused = await Assert.ThrowsAsync<StripeException>(() => ChargeAsync(Client(globex.Str("key")), 600));
        await ChargeAsync(Client(globex.Str("key")), 500);

        Assert.Contains("monthly budget of ''", refused.Message, StringComparison.Ordinal);
        Assert.Equal(2, _proxy.Vendors.Stripe.Ledger.Count);
    }

    private static Task<PaymentIntent> ChargeAsync(StripeClient stripe, long amount, RequestOptions? options = null) =>
        stripe.V1.PaymentIntents.CreateAsync(
            new PaymentIntentCreateOptions { Amount = amount, Currency = "usd", Confirm = true, PaymentMethod = "pm_card_visa" }, options);

    private async Task<JsonElement> GetKeyAsync(string id)
    {
        using HttpClient root = _proxy.Host.Client();
        return await Json.ReadAsync(await root.GetAsync($"/v1/keys/{id}"));
    }

    private StripeClient Client(string apiKey) => new(new StripeClientOptions
    {
        ApiKey = apiKey,
        ApiBase = _proxy.ProxyBase("stripe").ToString().TrimEnd('/'),
        HttpClient = new SystemNetHttpClient(maxNetworkRetries: 0, enableTelemetry: false),
    });
}
