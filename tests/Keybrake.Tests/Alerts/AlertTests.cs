using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Keybrake.Domain.Alerts;
using Keybrake.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Stripe;

namespace Keybrake.Tests.Alerts;

/// <summary>
/// Budget thresholds fire once per period (from the proxy as a reservation crosses them, or the timer's sweep,
/// however many run at once), and are delivered to a signed webhook through a durable queue with retries.
/// </summary>
public sealed class AlertTests : IAsyncLifetime
{
    private const string WebhookSecret = "whsec-test-0123456789";
    private WebhookReceiver _webhook = null!;
    private ProxyHost _proxy = null!;

    public async Task InitializeAsync()
    {
        _webhook = await WebhookReceiver.StartAsync();
        _proxy = await ProxyHost.StartAsync(new Dictionary<string, string?>
        {
            ["Alerts:WebhookUrl"] = _webhook.Url.ToString(),
            ["Secrets:alerts-webhook-secret"] = WebhookSecret,
        });
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _webhook.DisposeAsync();
    }

    private AlertDelivery NewDeliveryInstance() => ActivatorUtilities.CreateInstance<AlertDelivery>(_proxy.Host.Services);

    [Fact]
    public async Task ProxyReservations_FireEachThresholdOnce_AsTheyCrossIt()
    {
        using HttpClient root = _proxy.Host.Client();
        Assert.Equal(HttpStatusCode.OK, (await root.PutAsJsonAsync("/v1/budgets/acme:billing-agent", new { daily_usd = 10, alert_thresholds = new[] { 0.5, 0.8, 1.0 } })).StatusCode);
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-1", "stripe", "POST /v1/payment_intents");
        StripeClient stripe = Stripe(key);

        await ChargeAsync(stripe, 300);
        Assert.Empty(await AlertsAsync(root));
        await ChargeAsync(stripe, 300);
        Assert.Equal(["budget|acme:billing-agent|2026-11-02|0.5"], (await AlertsAsync(root)).Select(a => a.Str("id")));
        await ChargeAsync(stripe, 300);
        await ChargeAsync(stripe, 50);
        StripeException refused = await Assert.ThrowsAsync<StripeException>(() => ChargeAsync(stripe, 300));
        Assert.Equal("keybrake_cap_exceeded", refused.StripeError.Code);

        List<JsonElement> alerts = await AlertsAsync(root);
        Assert.Equal(["budget|acme:billing-agent|2026-11-02|0.5", "budget|acme:billing-agent|2026-11-02|0.8"], alerts.Select(a => a.Str("id")).Order());
        JsonElement eighty = alerts.Single(a => a.Str("id").EndsWith("0.8", StringComparison.Ordinal));
        Assert.Equal(("budget_threshold", "acme", "pending"), (eighty.Str("kind"), eighty.Str("tenant"), eighty.Str("delivery_state")));
        Assert.Equal((9.00m, 10m, 0.8m), (eighty.GetProperty("details").GetProperty("spent_usd").GetDecimal(),
            eighty.GetProperty("details").GetProperty("budget_usd").GetDecimal(), eighty.GetProperty("details").GetProperty("threshold").GetDecimal()));

        // The next day is a new period: the same thresholds fire again, once.
        _proxy.Host.Time.Advance(TimeSpan.FromDays(1));
        await ChargeAsync(Stripe(await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-1b", "stripe", "POST /v1/payment_intents")), 600);
        Assert.Contains(await AlertsAsync(root), a => a.Str("id") == "budget|acme:billing-agent|2026-11-03|0.5");
    }

    [Fact]
    public async Task TimerSweeps_RunningConcurrently_FireEachThresholdOncePerPeriod()
    {
        using HttpClient root = _proxy.Host.Client();
        await root.PutAsJsonAsync("/v1/budgets/acme:", new { daily_usd = 20, monthly_usd = 100 });
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-2", "stripe", "POST /v1/payment_intents");
        await ChargeAsync(Stripe(key), 1700);

        // Thresholds set after the spend: only a sweep can notice them.
        await root.PutAsJsonAsync("/v1/budgets/acme:", new { daily_usd = 20, monthly_usd = 100, alert_thresholds = new[] { 0.1, 0.5, 0.8 } });
        BudgetAlerts[] instances = [.. Enumerable.Range(0, 4).Select(_ => ActivatorUtilities.CreateInstance<BudgetAlerts>(_proxy.Host.Services))];
        int[] fired = await Task.WhenAll(instances.Select(i => i.CheckAllAsync(CancellationToken.None)));
        int[] again = await Task.WhenAll(instances.Select(i => i.CheckAllAsync(CancellationToken.None)));

        // $17 of $20 a day: 10%, 50%, 80%; of $100 a month: 10%.
        string[] expected = ["budget|acme:|2026-11-02|0.1", "budget|acme:|2026-11-02|0.5", "budget|acme:|2026-11-02|0.8", "budget|acme:|2026-11|0.1"];
        Assert.Equal(expected.Length, fired.Sum());
        Assert.Equal(0, again.Sum());
        Assert.Equal(expected.Order(), (await AlertsAsync(root)).Select(a => a.Str("id")).Order());
    }

    [Fact]
    public async Task Webhook_IsSignedWithHmacOverTimestampAndBody_RetriedWithBackoff_UntilAcknowledged()
    {
        using HttpClient root = _proxy.Host.Client();
        await root.PutAsJsonAsync("/v1/budgets/acme:", new { daily_usd = 10, alert_thresholds = new[] { 0.5 } });
        JsonElement top = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-3", "stripe", "POST /v1/payment_intents");
        JsonElement other = await _proxy.IssueKeyAsync("acme:support-agent:refunds:run-4", "stripe", "POST /v1/payment_intents");
        await ChargeAsync(Stripe(other), 100);
        await ChargeAsync(Stripe(top), 450);
        _webhook.Statuses.Enqueue(500);
        _webhook.Statuses.Enqueue(503);

        DeliveryReport first = await NewDeliveryInstance().DeliverDueAsync(CancellationToken.None);
        JsonElement failed = Assert.Single(await AlertsAsync(root));
        Assert.Equal((0, 1), (first.Delivered, first.Failed));
        Assert.Equal(("retrying", 1, "the webhook answered HTTP 500"), (failed.Str("delivery_state"), failed.GetProperty("attempts").GetInt32(), failed.Str("last_error")));

        // Not due before its backoff (1 minute after the first failure, then 2).
        Assert.Equal(new DeliveryReport(0, 0, 0), await NewDeliveryInstance().DeliverDueAsync(CancellationToken.None));
        _proxy.Host.Time.Advance(AlertDelivery.Backoff(1));
        Assert.Equal(1, (await NewDeliveryInstance().DeliverDueAsync(CancellationToken.None)).Failed);
        _proxy.Host.Time.Advance(AlertDelivery.Backoff(2));
        Assert.Equal(1, (await NewDeliveryInstance().DeliverDueAsync(CancellationToken.None)).Delivered);
        _proxy.Host.Time.Advance(TimeSpan.FromHours(2));
        Assert.Equal(new DeliveryReport(0, 0, 0), await NewDeliveryInstance().DeliverDueAsync(CancellationToken.None));

        Assert.Equal([500, 503, 200], _webhook.Received.Select(r => r.Status));
        Assert.Single(_webhook.Received.Select(r => r.Body).Distinct());
        foreach ((IReadOnlyDictionary<string, string> headers, string body, int _) in _webhook.Received)
        {
            Assert.True(Verify(headers["Keybrake-Signature"], body, WebhookSecret), headers["Keybrake-Signature"]);
            Assert.False(Verify(headers["Keybrake-Signature"], body.Replace("acme", "acmf", StringComparison.Ordinal), WebhookSecret));
            Assert.False(Verify(headers["Keybrake-Signature"], body, "another-secret"));
            Assert.Equal("budget|acme:|2026-11-02|0.5", headers["Keybrake-Alert-Id"]);
        }

        JsonElement sent = JsonDocument.Parse(_webhook.Received[0].Body).RootElement;
        Assert.Equal(("acme:", "2026-11-02", 0.5m, 5.50m, 10m), (sent.Str("prefix"), sent.Str("period"), sent.GetProperty("threshold").GetDecimal(),
            sent.GetProperty("spent_usd").GetDecimal(), sent.GetProperty("budget_usd").GetDecimal()));
        Assert.Equal(
            [("acme:billing-agent:checkout:run-3", 4.50m), ("acme:support-agent:refunds:run-4", 1.00m)],
            sent.GetProperty("top_spenders").EnumerateArray().Select(s => (s.Str("label"), s.GetProperty("cost_usd").GetDecimal())));
        JsonElement delivered = Assert.Single(await AlertsAsync(root));
        Assert.Equal(("delivered", 3), (delivered.Str("delivery_state"), delivered.GetProperty("attempts").GetInt32()));
        Assert.DoesNotContain(WebhookSecret, _proxy.Host.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ASendOutlivingItsLease_ThatFails_NeverTakesTheRecordBackFromDelivered()
    {
        using HttpClient root = _proxy.Host.Client();
        await root.PutAsJsonAsync("/v1/budgets/acme:", new { daily_usd = 10, alert_thresholds = new[] { 0.5 } });
        await ChargeAsync(Stripe(await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-6", "stripe", "POST /v1/payment_intents")), 600);

        // Instance A's webhook hangs past the lease; meanwhile instance B claims the alert and delivers it; then A's send fails.
        DeliveryReport? second = null;
        var slow = new ScriptedSender(async () =>
        {
            _proxy.Host.Time.Advance(AlertDelivery.Lease + TimeSpan.FromSeconds(1));
            second = await NewDeliveryInstance().DeliverDueAsync(CancellationToken.None);
            return "the webhook timed out";
        });
        DeliveryReport first = await ActivatorUtilities.CreateInstance<AlertDelivery>(_proxy.Host.Services, slow).DeliverDueAsync(CancellationToken.None);

        Assert.Equal((1, 1), (second!.Delivered, first.Failed));
        JsonElement record = Assert.Single(await AlertsAsync(root));
        Assert.Equal("delivered", record.Str("delivery_state"));
        _proxy.Host.Time.Advance(TimeSpan.FromHours(2));
        Assert.Equal(new DeliveryReport(0, 0, 0), await NewDeliveryInstance().DeliverDueAsync(CancellationToken.None));
        Assert.Single(_webhook.Received);
    }

    [Fact]
    public async Task TheLease_RunsFromEachClaim_NotFromTheStartOfARunWithSlowSends()
    {
        using HttpClient root = _proxy.Host.Client();
        await root.PutAsJsonAsync("/v1/budgets/acme:", new { daily_usd = 10, alert_thresholds = new[] { 0.5, 0.9 } });
        await ChargeAsync(Stripe(await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-7", "stripe", "POST /v1/payment_intents")), 950);

        // The first send takes most of a lease; during the second, another instance runs: the second alert's lease,
        // taken when it was claimed, still holds, so that instance sends nothing.
        DeliveryReport? other = null;
        int sends = 0;
        var slow = new ScriptedSender(async () =>
        {
            if (++sends == 1)
            {
                _proxy.Host.Time.Advance(AlertDelivery.Lease - TimeSpan.FromSeconds(10));
            }
            else
            {
                _proxy.Host.Time.Advance(TimeSpan.FromSeconds(30));
                other = await NewDeliveryInstance().DeliverDueAsync(CancellationToken.None);
            }

            return "the webhook timed out";
        });
        DeliveryReport run = await ActivatorUtilities.CreateInstance<AlertDelivery>(_proxy.Host.Services, slow).DeliverDueAsync(CancellationToken.None);

        Assert.Equal(2, run.Failed);
        Assert.Equal(new DeliveryReport(0, 0, 0), other);
        Assert.Empty(_webhook.Received);
    }

    [Fact]
    public async Task ConcurrentDeliverers_SendEachAlertOnce_AndLoopBreakerTripsAreDeliveredToo()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-5", "stripe", "POST /v1/payment_intents");
        StripeClient stripe = Stripe(key);
        for (int i = 0; i < 7; i++)
        {
            await Record.ExceptionAsync(() => ChargeAsync(stripe, 100));
        }

        DeliveryReport[] reports = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => NewDeliveryInstance().DeliverDueAsync(CancellationToken.None)));

        Assert.Equal(1, reports.Sum(r => r.Delivered));
        (IReadOnlyDictionary<string, string> _, string body, int _) = Assert.Single(_webhook.Received);
        JsonElement sent = JsonDocument.Parse(body).RootElement;
        Assert.Equal(("loop_detected", "acme", "acme:billing-agent:checkout:run-5"), (sent.Str("kind"), sent.Str("tenant"), sent.Str("subject")));
    }

    [Fact]
    public async Task WithoutTheSigningSecret_NothingIsSent_AndTheAlertSaysWhy()
    {
        await using ProxyHost unsigned = await ProxyHost.StartAsync(new Dictionary<string, string?> { ["Alerts:WebhookUrl"] = _webhook.Url.ToString() });
        using HttpClient root = unsigned.Host.Client();
        await root.PutAsJsonAsync("/v1/budgets/acme:", new { daily_usd = 1, alert_thresholds = new[] { 0.5 } });
        JsonElement key = await unsigned.IssueKeyAsync("acme:billing-agent:checkout:run-6", "stripe", "POST /v1/payment_intents");
        await ChargeAsync(Stripe(key, unsigned), 60);

        DeliveryReport report = await ActivatorUtilities.CreateInstance<AlertDelivery>(unsigned.Host.Services).DeliverDueAsync(CancellationToken.None);

        Assert.Equal(1, report.Failed);
        Assert.Empty(_webhook.Received);
        JsonElement alert = Assert.Single((await Json.ReadAsync(await root.GetAsync("/v1/alerts"))).GetProperty("alerts").EnumerateArray());
        Assert.Contains("alerts-webhook-secret", alert.Str("last_error"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListingIsTenantScoped_AndSinceIsValidated()
    {
        using HttpClient root = _proxy.Host.Client();
        await root.PutAsJsonAsync("/v1/budgets/globex:", new { daily_usd = 1, alert_thresholds = new[] { 0.5 } });
        JsonElement key = await _proxy.IssueKeyAsync("globex:billing-agent:checkout:run-7", "stripe", "POST /v1/payment_intents");
        await ChargeAsync(Stripe(key), 60);
        using HttpClient acme = _proxy.Host.Client(await _proxy.Host.IssueTenantTokenAsync("acme"));
        using HttpClient globex = _proxy.Host.Client(await _proxy.Host.IssueTenantTokenAsync("globex"));

        Assert.Empty((await Json.ReadAsync(await acme.GetAsync("/v1/alerts"))).GetProperty("alerts").EnumerateArray());
        Assert.Single((await Json.ReadAsync(await globex.GetAsync("/v1/alerts"))).GetProperty("alerts").EnumerateArray());
        _proxy.Host.Time.Advance(TimeSpan.FromHours(2));
        Assert.Empty((await Json.ReadAsync(await root.GetAsync("/v1/alerts?since=2026-11-02T10:00:00Z"))).GetProperty("alerts").EnumerateArray());
        HttpResponseMessage bad = await root.GetAsync("/v1/alerts?since=yesterday");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.StartsWith("since:", (await Json.ReadAsync(bad)).GetProperty("error").Str("message"), StringComparison.Ordinal);
    }

    /// <summary>What a receiver does: recompute HMAC-SHA256 over "{t}.{body}" and compare in constant time.</summary>
    private static bool Verify(string header, string body, string secret)
    {
        Dictionary<string, string> parts = header.Split(',').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        byte[] expected = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(parts["t"] + "." + body));
        return CryptographicOperations.FixedTimeEquals(expected, Convert.FromHexString(parts["v1"]));
    }

    private static async Task<List<JsonElement>> AlertsAsync(HttpClient root)
    {
        HttpResponseMessage response = await root.GetAsync("/v1/alerts");
        JsonElement body = await Json.ReadAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.OK, body.ToString());
        return [.. body.GetProperty("alerts").EnumerateArray().Where(a => a.Str("kind") == "budget_threshold")];
    }

    private static Task<PaymentIntent> ChargeAsync(StripeClient stripe, long amount) =>
        stripe.V1.PaymentIntents.CreateAsync(new PaymentIntentCreateOptions { Amount = amount, Currency = "usd", Confirm = true, PaymentMethod = "pm_card_visa" });

    private StripeClient Stripe(JsonElement key, ProxyHost? host = null) => new(new StripeClientOptions
    {
        ApiKey = key.Str("key"),
        ApiBase = (host ?? _proxy).ProxyBase("stripe").ToString().TrimEnd('/'),
        HttpClient = new SystemNetHttpClient(maxNetworkRetries: 0, enableTelemetry: false),
    });

    /// <summary>A webhook whose every send runs a script (advance the clock, let another instance run) and returns its outcome.</summary>
    private sealed class ScriptedSender(Func<Task<string?>> send) : IAlertSender
    {
        public bool IsConfigured => true;

        public Task<string?> SendAsync(Alert alert, string body, CancellationToken cancellationToken) => send();
    }
}
