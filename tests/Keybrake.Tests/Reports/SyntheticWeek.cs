using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Keybrake.Domain.Reconciliation;
using Keybrake.Sandbox;
using Keybrake.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Stripe;
using Twilio.Clients;
using Twilio.Rest.Api.V2010.Account;
using Twilio.Types;

namespace Keybrake.Tests.Reports;

/// <summary>
/// A week of agent traffic for three tenants (Mon 2026-11-02 .. Sun 2026-11-08) through the proxy against the
/// fake vendors, with the ground truth kept apart from the proxy: every request the driver makes is matched
/// to the fake's ledger entry it produced, so spend is recomputed from what the vendors received and answered.
/// Twilio messages settle at a price unlike the proxy's estimate at the end of each day, except Sunday's,
/// which <see cref="SettleLateAsync"/> settles after the rollups (late settlement).
/// </summary>
public sealed class SyntheticWeek : IAsyncLifetime
{
    public static readonly DateOnly Monday = new(2026, 11, 2);
    public const string WeekWindow = "since=2026-11-02T00:00:00Z&until=2026-11-08T23:59:59.9999999Z";
    private const decimal SettledSmsSegmentUsd = 0.0079m;

    // The proxy's documented estimate per segment until Twilio settles the price (PricingOptions default).
    private const long EstimatedMicrosPerSegment = 8_300;
    private const long ResendMicrosPerEmail = 900;

    private readonly Dictionary<(string Vendor, long Sequence), (string Label, DateTimeOffset At)> _sent = [];
    private readonly List<(string Label, DateTimeOffset At)> _denied = [];
    private readonly Dictionary<string, JsonElement> _keys = [];
    private string? _firstCharge;

    public ProxyHost Proxy { get; private set; } = null!;

    public IReadOnlyList<(string Label, DateTimeOffset At)> Denied => _denied;

    /// <summary>Set by a test class once it has done its closing steps on the shared week (settle, roll up).</summary>
    public bool Closed { get; set; }

    public async Task InitializeAsync()
    {
        Proxy = await ProxyHost.StartAsync();
        Proxy.Vendors.Twilio.Options.PricePerSegmentUsd = SettledSmsSegmentUsd;
        for (int d = 0; d < 7; d++)
        {
            DateOnly day = Monday.AddDays(d);
            AdvanceTo(At(day, 9, 30));
            await DayAsync(d, day);
            if (day.DayOfWeek != DayOfWeek.Sunday)
            {
                await SettleAsync();
            }
        }

        AdvanceTo(At(Monday.AddDays(7), 0, 30));
    }

    private void AdvanceTo(DateTimeOffset at)
    {
        TimeSpan ahead = at - Proxy.Host.Time.GetUtcNow();
        if (ahead > TimeSpan.Zero)
        {
            Proxy.Host.Time.Advance(ahead);
        }
    }

    public async Task DisposeAsync() => await Proxy.DisposeAsync();

    /// <summary>Sunday's messages settle on Monday, after Sunday was rolled up.</summary>
    public Task SettleLateAsync() => SettleAsync();

    private async Task SettleAsync()
    {
        Proxy.Vendors.Twilio.SettleAll();
        await Proxy.Host.Services.GetRequiredService<Reconciler>().RunAsync(CancellationToken.None);
    }

    private static DateTimeOffset At(DateOnly day, int hour, int minute) => new(day.ToDateTime(new TimeOnly(hour, minute)), TimeSpan.Zero);

    /// <summary>One day's traffic: steady billing, notifications and onboarding; Tuesday's runaway collections agent; Thursday's big run.</summary>
    private async Task DayAsync(int d, DateOnly day)
    {
        string run = "run-" + day.ToString("MMdd", CultureInfo.InvariantCulture);

        // acme: checkout charges every day, a same-day refund, and on Wednesday a refund of Monday's first charge.
        string mondayCharge = _firstCharge ?? string.Empty;
        string charge = await ChargeAsync($"acme:billing-agent:checkout:{run}", 1250 + (d * 100));
        _firstCharge ??= charge;
        await ChargeAsync($"acme:billing-agent:checkout:{run}", 2999);
        await RefundAsync($"acme:billing-agent:refunds:{run}", charge, 500);
        if (d == 2)
        {
            await RefundAsync($"acme:billing-agent:refunds:{run}", mondayCharge, 1250);
        }

        await SmsAsync($"acme:notify-agent:sms:{run}", "Your order has shipped. Track it at example.com/t/4521.");
        await SmsAsync($"acme:notify-agent:sms:{run}", new string('x', 200));
        await SmsAsync($"acme:onboarding-agent:welcome-sms:{run}", "Welcome aboard! Reply HELP for help.");
        await EmailAsync($"acme:notify-agent:email:{run}", batch: d % 2 == 0 ? 3 : 1);

        // The allowlist refuses a call outside the agent's endpoints.
        await ForbiddenAsync($"acme:billing-agent:checkout:{run}");

        // globex: onboarding by SMS and email, billing, and a label without feature and run.
        await SmsAsync($"globex:onboarding-agent:welcome-sms:{run}", "Hi! Your globex account is ready. " + new string('.', 150));
        await EmailAsync($"globex:onboarding-agent:welcome-email:{run}", batch: 2);
        await ChargeAsync($"globex:billing-agent:invoices:{run}", 2000 + (d * 333));
        await ChargeAsync("globex:support-agent", 150);
        if (d == 1)
        {
            // Tuesday's spike: a runaway collections agent fires the same charge every few seconds until the loop breaker stops it.
            for (int i = 0; i < 8; i++)
            {
                await ChargeAsync($"globex:collections-agent:dunning:{run}", 4000, pause: TimeSpan.FromSeconds(3));
            }
        }

        await SmsAsync($"globex:notify-agent:sms:{run}", "Invoice ready 😀");

        // initech: a declined card, a capped key that runs out, and Thursday's run over $50.
        await ChargeAsync($"initech:billing-agent:checkout:{run}", 800, "pm_card_chargeDeclined");
        await ChargeAsync($"initech:billing-agent:checkout:{run}", 2500);
        await ChargeAsync($"initech:billing-agent:trial:{run}", 600, cap: 10m);
        await ChargeAsync($"initech:billing-agent:trial:{run}", 600, cap: 10m);
        if (d == 3)
        {
            await ChargeAsync($"initech:billing-agent:checkout:{run}", 3000);
            await ChargeAsync($"initech:billing-agent:checkout:{run}", 2600);
        }

        await EmailAsync($"initech:notify-agent:email:{run}", batch: 1);
        await SmsAsync($"initech:onboarding-agent:welcome-sms:{run}", "Welcome to initech");
    }

    private async Task<JsonElement> KeyAsync(string label, string vendor, decimal cap)
    {
        if (!_keys.TryGetValue(label, out JsonElement key))
        {
            string[] endpoints = vendor switch
            {
                "stripe" => ["POST /v1/payment_intents", "POST /v1/refunds"],
                "twilio" => ["POST /2010-04-01/Accounts/*/Messages"],
                _ => ["POST /emails", "POST /emails/batch"],
            };
            key = await Proxy.Host.IssueKeyAsync(label, vendor, cap, endpoints, "8d");
            _keys[label] = key;
        }

        return key;
    }

    /// <summary>Runs one agent call and records which ledger entry it produced (or that the proxy denied it).</summary>
    private async Task CallAsync(string label, FakeVendor vendor, Func<Task> call, TimeSpan? pause = null)
    {
        DateTimeOffset at = Proxy.Host.Time.GetUtcNow();
        int before = vendor.Ledger.Count;
        try
        {
            await call();
        }
        catch (Exception e) when (e is StripeException or Twilio.Exceptions.ApiException or HttpRequestException)
        {
            if (vendor.Ledger.Count == before)
            {
                _denied.Add((label, at));
            }
        }

        Assert.True(vendor.Ledger.Count - before <= 1, $"one call reached {vendor.Vendor} more than once");
        if (vendor.Ledger.Count > before)
        {
            _sent[(vendor.Vendor, vendor.Ledger[^1].Sequence)] = (label, at);
        }

        Proxy.Host.Time.Advance(pause ?? TimeSpan.FromMinutes(7));
    }

    private async Task<string> ChargeAsync(string label, long amount, string paymentMethod = "pm_card_visa", decimal cap = 500m, TimeSpan? pause = null)
    {
        JsonElement key = await KeyAsync(label, "stripe", cap);
        string id = string.Empty;
        await CallAsync(label, Proxy.Vendors.Stripe, async () => id = (await Stripe(key).V1.PaymentIntents.CreateAsync(new PaymentIntentCreateOptions
        {
            Amount = amount, Currency = "usd", Confirm = true, PaymentMethod = paymentMethod, Expand = ["latest_charge.balance_transaction"],
        })).Id, pause);
        return id;
    }

    private async Task RefundAsync(string label, string paymentIntent, long amount)
    {
        JsonElement key = await KeyAsync(label, "stripe", 500m);
        await CallAsync(label, Proxy.Vendors.Stripe, () => Stripe(key).V1.Refunds.CreateAsync(new RefundCreateOptions { PaymentIntent = paymentIntent, Amount = amount }));
    }

    private async Task ForbiddenAsync(string label)
    {
        JsonElement key = await KeyAsync(label, "stripe", 500m);
        await CallAsync(label, Proxy.Vendors.Stripe, () => Stripe(key).V1.Customers.GetAsync("cus_123"));
    }

    private async Task SmsAsync(string label, string body)
    {
        JsonElement key = await KeyAsync(label, "twilio", 50m);
        var client = new TwilioRestClient("AC00000000000000000000000000agent0", key.Str("key"),
            httpClient: new Twilio.Http.SystemNetHttpClient(BaseUrlRewriteHandler.CreateClient(Proxy.ProxyBase("twilio"))));
        await CallAsync(label, Proxy.Vendors.Twilio, () => MessageResource.CreateAsync(
            new CreateMessageOptions(new PhoneNumber("+15145535858")) { From = new PhoneNumber("+15149002890"), Body = body }, client));
    }

    private async Task EmailAsync(string label, int batch)
    {
        JsonElement key = await KeyAsync(label, "resend", 50m);
        using var agent = new HttpClient { BaseAddress = Proxy.ProxyBase("resend") };
        agent.DefaultRequestHeaders.Authorization = new("Bearer", key.Str("key"));
        const string email = """{"from":"a@x.io","to":"b@x.io","subject":"Your receipt","text":"Thanks"}""";
        string json = batch == 1 ? email : "[" + string.Join(',', Enumerable.Repeat(email, batch)) + "]";
        await CallAsync(label, Proxy.Vendors.Resend, async () =>
        {
            HttpResponseMessage response = await agent.PostAsync(batch == 1 ? "emails" : "emails/batch", new StringContent(json, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        });
    }

    private StripeClient Stripe(JsonElement key) => new(new StripeClientOptions
    {
        ApiKey = key.Str("key"),
        ApiBase = Proxy.ProxyBase("stripe").ToString().TrimEnd('/'),
        HttpClient = new SystemNetHttpClient(maxNetworkRetries: 0, enableTelemetry: false),
    });

    /// <summary>
    /// What the vendors received and answered, per call: the label and day the driver made it on, and its money
    /// in micro-dollars as the vendor's ledger has it (Stripe amounts and fees, Twilio's settled price, Resend emails).
    /// </summary>
    public IReadOnlyList<LedgerCall> Ledger()
    {
        var calls = new List<LedgerCall>();
        foreach (FakeVendor vendor in new FakeVendor[] { Proxy.Vendors.Stripe, Proxy.Vendors.Twilio, Proxy.Vendors.Resend })
        {
            foreach (LedgerEntry entry in vendor.Ledger)
            {
                if (!_sent.TryGetValue((vendor.Vendor, entry.Sequence), out (string Label, DateTimeOffset At) call))
                {
                    // Not an agent's call: the reconciler looking up a price.
                    Assert.Equal("GET", entry.Method);
                    continue;
                }

                (string label, DateTimeOffset at) = call;
                (long gross, long refunds, long fee) = entry switch
                {
                    { Vendor: "stripe", Path: "/v1/payment_intents", Status: 200 } => (entry.AmountMinor!.Value * 10_000, 0L, Proxy.Vendors.Stripe.Options.FeeFor(entry.AmountMinor!.Value) * 10_000),
                    { Vendor: "stripe", Path: "/v1/refunds", Status: 200 } => (0L, entry.AmountMinor!.Value * 10_000, 0L),
                    { Vendor: "twilio", Status: 201 } => (entry.PriceUsd is decimal price ? (long)(price * 1_000_000m) : entry.Segments!.Value * EstimatedMicrosPerSegment, 0L, 0L),
                    { Vendor: "resend", Status: 200 } => (entry.EmailCount!.Value * ResendMicrosPerEmail, 0L, 0L),
                    _ => (0L, 0L, 0L),
                };
                calls.Add(new LedgerCall(label, vendor.Vendor, at, gross, refunds, fee, Denied: false));
            }
        }

        calls.AddRange(_denied.Select(d => new LedgerCall(d.Label, VendorOf(d.Label), d.At, 0, 0, 0, Denied: true)));
        return calls;
    }

    private string VendorOf(string label) => _keys[label].Str("vendor");
}

/// <summary>One call as the vendors saw it (or a denial the driver saw), with the label parts spend groups by.</summary>
public sealed record LedgerCall(string Label, string Vendor, DateTimeOffset At, long Gross, long Refunds, long Fee, bool Denied)
{
    public DateOnly Day => DateOnly.FromDateTime(At.UtcDateTime);

    public string Dimension(string name)
    {
        string[] parts = Label.Split(':', 4);
        string Part(int i) => parts.Length > i && parts[i].Length > 0 ? parts[i] : "unknown";
        return name switch
        {
            "tenant" => parts[0],
            "agent_type" => Part(1),
            "feature" => Part(2),
            "run" => Part(3),
            "label" => Label,
            _ => Vendor,
        };
    }
}
