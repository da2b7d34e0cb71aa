using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Azure.Data.Tables;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Caps;
using Keybrake.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Stripe;

namespace Keybrake.Tests.Caps;

/// <summary>
/// Caps at their edges: spend may reach a cap exactly and not one micro-dollar past it, for key caps and for
/// daily and monthly budgets, with whole-cent and fractional-cent prices; bounds that come from a look-up or
/// from the whole allowance; what a call costs beyond its reservation.
/// </summary>
public sealed class CapBoundaryTests : IAsyncLifetime
{
    // One GSM-7 segment at the default Pricing__TwilioPricePerSegmentUsd: 0.0083 USD, a fraction of a cent.
    private const long Segment = 8_300;
    private ProxyHost _proxy = null!;

    public async Task InitializeAsync() => _proxy = await ProxyHost.StartAsync(ownVendorAccounts: ["acme"]);

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    public enum Counter
    {
        KeyCap,
        DailyBudget,
        MonthlyBudget,
    }

    [Theory]
    [InlineData(Counter.KeyCap, 3 * Segment, 3)]
    [InlineData(Counter.KeyCap, 3 * Segment - 1, 2)]
    [InlineData(Counter.KeyCap, 3 * Segment + 1, 3)]
    [InlineData(Counter.DailyBudget, 3 * Segment, 3)]
    [InlineData(Counter.DailyBudget, 3 * Segment - 1, 2)]
    [InlineData(Counter.MonthlyBudget, 3 * Segment, 3)]
    [InlineData(Counter.MonthlyBudget, 3 * Segment - 1, 2)]
    public async Task FractionalCentMessages_SpendUpToTheLimitExactly_NeverOneMicroPast(Counter counter, long limitMicros, int allowed)
    {
        decimal limit = limitMicros / 1_000_000m;
        if (counter != Counter.KeyCap)
        {
            using HttpClient root = _proxy.Host.Client();
            object budget = counter == Counter.DailyBudget ? new { daily_usd = limit } : new { monthly_usd = limit };
            Assert.Equal(HttpStatusCode.OK, (await root.PutAsJsonAsync("/v1/budgets/acme:notify-agent", budget)).StatusCode);
        }

        JsonElement key = await _proxy.Host.IssueKeyAsync("acme:notify-agent:sms:edge", "twilio", cap: counter == Counter.KeyCap ? limit : 5m,
            endpoints: ["POST /2010-04-01/Accounts/*/Messages"]);

        var statuses = new List<int>();
        for (int i = 0; i < allowed + 2; i++)
        {
            statuses.Add((int)(await SmsAsync(key.Str("key"), "edge " + i)).StatusCode);
        }

        Assert.Equal([.. Enumerable.Repeat(201, allowed), 429, 429], statuses);
        Assert.Equal(allowed, _proxy.Vendors.Twilio.Ledger.Count);
        Assert.Equal(allowed * Segment / 1_000_000m, (await KeyAsync(key.Str("id"))).GetProperty("spent_today_usd").GetDecimal());
    }

    [Theory]
    [InlineData("10.000000", new long[] { 999, 1 }, 2)]
    [InlineData("9.999999", new long[] { 999, 1 }, 1)]
    [InlineData("10.000001", new long[] { 999, 1, 1 }, 2)]
    public async Task WholeCentCharges_ReachTheKeyCapExactly_NeverOneMicroPast(string cap, long[] amounts, int allowed)
    {
        JsonElement key = await _proxy.Host.IssueKeyAsync("acme:billing-agent:checkout:edge", "stripe", cap: decimal.Parse(cap, System.Globalization.CultureInfo.InvariantCulture),
            endpoints: ["POST /v1/payment_intents"]);
        StripeClient stripe = Client(key.Str("key"));

        int succeeded = 0;
        foreach (long amount in amounts)
        {
            try
            {
                await ChargeAsync(stripe, amount);
                succeeded++;
            }
            catch (StripeException e) when (e.StripeError.Code == "keybrake_cap_exceeded")
            {
            }
        }

        Assert.Equal(allowed, succeeded);
        Assert.Equal(allowed, _proxy.Vendors.Stripe.Ledger.Count);
        Assert.Equal(amounts.Take(allowed).Sum() / 100m, (await KeyAsync(key.Str("id"))).GetProperty("spent_today_usd").GetDecimal());
    }

    [Fact]
    public async Task IdempotentReplay_UnderACapThatCannotMaskIt_IsReservedOnce()
    {
        // $100 leaves room for a second $30 reservation: if the replay reserved again, the $70 below would be refused.
        JsonElement key = await _proxy.Host.IssueKeyAsync("acme:billing-agent:checkout:replay", "stripe", cap: 100m, endpoints: ["POST /v1/payment_intents"]);
        StripeClient stripe = Client(key.Str("key"));
        var options = new RequestOptions { IdempotencyKey = "order-replay-1" };

        PaymentIntent first = await ChargeAsync(stripe, 3000, options);
        PaymentIntent replay = await ChargeAsync(stripe, 3000, options);
        Assert.Equal(30m, (await KeyAsync(key.Str("id"))).GetProperty("spent_today_usd").GetDecimal());
        await ChargeAsync(stripe, 7000);
        StripeException refused = await Assert.ThrowsAsync<StripeException>(() => ChargeAsync(stripe, 1));

        Assert.Equal(first.Id, replay.Id);
        Assert.Equal("keybrake_cap_exceeded", refused.StripeError.Code);
        Assert.Equal(100m, (await KeyAsync(key.Str("id"))).GetProperty("spent_today_usd").GetDecimal());
        Assert.Equal(2, _proxy.Vendors.Stripe.Ledger.Count(e => !e.Replayed));
    }

    [Fact]
    public async Task AmountInTheQueryString_IsReservedLikeOneInTheBody()
    {
        JsonElement key = await _proxy.Host.IssueKeyAsync("acme:billing-agent:checkout:query", "stripe", cap: 10m, endpoints: ["POST /v1/payment_intents"]);

        HttpResponseMessage big = await RawAsync("stripe", key.Str("key"), "v1/payment_intents?amount=100000&currency=usd&confirm=true&payment_method=pm_card_visa", null, null);
        HttpResponseMessage small = await RawAsync("stripe", key.Str("key"), "v1/payment_intents?amount=500&currency=usd&confirm=true&payment_method=pm_card_visa", null, null);

        Assert.Equal(HttpStatusCode.TooManyRequests, big.StatusCode);
        Assert.Equal(HttpStatusCode.OK, small.StatusCode);
        Assert.Equal(500, Assert.Single(_proxy.Vendors.Stripe.Ledger).AmountMinor);
        Assert.Equal(5m, (await KeyAsync(key.Str("id"))).GetProperty("spent_today_usd").GetDecimal());
    }

    [Theory]
    [InlineData("stripe", "v1/payment_intents", "application/json", "{\"amount\":100,\"currency\":\"usd\"}", "POST /v1/payment_intents")]
    [InlineData("stripe", "v1/payment_intents?amount=100", "application/x-www-form-urlencoded", "amount=100&currency=usd", "POST /v1/payment_intents")]
    [InlineData("twilio", "2010-04-01/Accounts/AC1/Messages.json?Body=a", "application/x-www-form-urlencoded", "To=%2B15145535858&From=%2B15149002890&Body=b", "POST /2010-04-01/Accounts/*/Messages")]
    [InlineData("resend", "emails/batch", "text/plain", "[{\"from\":\"a@x.com\",\"to\":\"b@x.com\",\"subject\":\"s\"}]", "POST /emails/batch")]
    public async Task UnreadableMoneyMovingCalls_AreRefusedInTheVendorsShape_AndNeverForwarded(string vendor, string path, string contentType, string body, string endpoint)
    {
        JsonElement key = await _proxy.Host.IssueKeyAsync("acme:billing-agent:checkout:unreadable", vendor, cap: 50m, endpoints: [endpoint]);

        HttpResponseMessage response = await RawAsync(vendor, key.Str("key"), path, contentType, Encoding.UTF8.GetBytes(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("keybrake_unreadable_request", GeneratedShapes.RefusalCode(vendor, await response.Content.ReadAsStringAsync()));
        Assert.Empty(_proxy.Vendors.All.SelectMany(v => v.Ledger));
        TableEntity row = Assert.Single(await _proxy.AuditRowsAsync());
        Assert.Equal(("denied", "unreadable_request"), (row.GetString("Outcome"), row.GetString("Reason")));
    }

    [Fact]
    public async Task Reads_AreNotAffectedByBodiesTheProxyCannotRead()
    {
        JsonElement key = await _proxy.Host.IssueKeyAsync("acme:billing-agent:checkout:read", "stripe", cap: 1m, endpoints: ["GET /v1/customers/*"]);

        HttpResponseMessage response = await RawAsync("stripe", key.Str("key"), "v1/customers/cus_1?amount=1e9", "text/plain", [0xEF, 0xBB, 0xBF, 0xFF], HttpMethod.Get);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(_proxy.Vendors.Stripe.Ledger);
    }

    [Fact]
    public async Task InvoicePay_ReservesTheInvoicesRemainingAmount_ReadWithTheRealSecret()
    {
        JsonElement key = await _proxy.Host.IssueKeyAsync("acme:billing-agent:invoices:pay", "stripe", cap: 20m, endpoints: ["POST /v1/invoices/*/pay"]);
        string large = _proxy.Vendors.Stripe.AddInvoice(2_500, "usd");
        string small = _proxy.Vendors.Stripe.AddInvoice(1_500, "usd");

        HttpResponseMessage refused = await RawAsync("stripe", key.Str("key"), $"v1/invoices/{large}/pay", null, null);
        HttpResponseMessage paid = await RawAsync("stripe", key.Str("key"), $"v1/invoices/{small}/pay", null, null);

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Contains("needs 25.000000", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, paid.StatusCode);
        Assert.Equal(["GET", "GET", "POST"], _proxy.Vendors.Stripe.Ledger.Select(e => e.Method));
        Assert.All(_proxy.Vendors.Stripe.Ledger, e => Assert.Equal("Bearer " + _proxy.Vendors.Stripe.SecretKey, e.Authorization));
        Assert.Equal(15m, (await KeyAsync(key.Str("id"))).GetProperty("spent_today_usd").GetDecimal());
    }

    [Fact]
    public async Task InvoicePay_OfAnInvoiceThatCannotBeRead_IsNotForwarded()
    {
        JsonElement key = await _proxy.Host.IssueKeyAsync("acme:billing-agent:invoices:missing", "stripe", cap: 20m, endpoints: ["POST /v1/invoices/*/pay"]);

        HttpResponseMessage response = await RawAsync("stripe", key.Str("key"), "v1/invoices/in_missing/pay", null, null);

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("keybrake_bound_unavailable", GeneratedShapes.RefusalCode("stripe", await response.Content.ReadAsStringAsync()));
        Assert.Equal("GET", Assert.Single(_proxy.Vendors.Stripe.Ledger).Method);
    }

    [Fact]
    public async Task SubscriptionCreate_ReservesTheRemainingAllowance_SettlesToItsFirstInvoice()
    {
        JsonElement key = await _proxy.Host.IssueKeyAsync("acme:billing-agent:subs:ok", "stripe", cap: 20m,
            endpoints: ["POST /v1/payment_intents", "POST /v1/subscriptions"]);
        string price = _proxy.Vendors.Stripe.AddPrice(400, "usd");
        await ChargeAsync(Client(key.Str("key")), 500);

        HttpResponseMessage response = await RawAsync("stripe", key.Str("key"), "v1/subscriptions", "application/x-www-form-urlencoded",
            Encoding.UTF8.GetBytes($"customer=cus_1&items[0][price]={price}&items[0][quantity]=2&expand[]=latest_invoice"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        TableEntity row = await _proxy.AuditRowAsync(response.Headers.GetValues("X-Keybrake-Audit-Id").Single());
        Assert.Equal((8_000_000L, "parsed"), (row.GetInt64("CostMicros")!.Value, row.GetString("CostSource")));
        Assert.Null(row.GetInt64("OvershootMicros"));
        Assert.Equal(13m, (await KeyAsync(key.Str("id"))).GetProperty("spent_today_usd").GetDecimal());
    }

    [Fact]
    public async Task ACallCostingMoreThanItReserved_CountsInFull_RecordsTheOvershoot_AndLeavesTheKeyOverItsCap()
    {
        JsonElement key = await _proxy.Host.IssueKeyAsync("acme:billing-agent:subs:over", "stripe", cap: 10m,
            endpoints: ["POST /v1/payment_intents", "POST /v1/subscriptions"]);
        string price = _proxy.Vendors.Stripe.AddPrice(1_500, "usd");
        await ChargeAsync(Client(key.Str("key")), 200);

        // Nothing in a subscription's request bounds it: it reserves the $8 left, and Stripe charges $15.
        HttpResponseMessage response = await RawAsync("stripe", key.Str("key"), $"v1/subscriptions?customer=cus_1&items[0][price]={price}&expand[]=latest_invoice", null, null);
        StripeException after = await Assert.ThrowsAsync<StripeException>(() => ChargeAsync(Client(key.Str("key")), 50));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        TableEntity row = await _proxy.AuditRowAsync(response.Headers.GetValues("X-Keybrake-Audit-Id").Single());
        Assert.Equal(15_000_000, row.GetInt64("CostMicros"));
        Assert.Equal(7_000_000, row.GetInt64("OvershootMicros"));
        JsonElement view = await KeyAsync(key.Str("id"));
        Assert.Equal(17m, view.GetProperty("spent_today_usd").GetDecimal());
        Assert.Equal(0m, view.GetProperty("remaining_usd").GetDecimal());
        Assert.Equal("keybrake_cap_exceeded", after.StripeError.Code);
        using HttpClient root = _proxy.Host.Client();
        JsonElement audit = await Json.ReadAsync(await root.GetAsync("/v1/audit?label_prefix=acme:billing-agent:subs:over"));
        Assert.Equal(7m, audit.GetProperty("entries").EnumerateArray().Single(e => e.GetProperty("overshoot_usd").ValueKind == JsonValueKind.Number)
            .GetProperty("overshoot_usd").GetDecimal());
    }

    [Theory]
    [InlineData(0, 5_000_000)]
    [InlineData(2_000_000, 5_000_000)]
    [InlineData(5_000_000, 1_250_000)]
    public async Task Settlement_MovesTheCountersToTheRealCost_WhateverWasReserved(long reserved, long real)
    {
        IReservationLedger audit = _proxy.Host.Services.GetRequiredService<IReservationLedger>();
        DateTimeOffset now = _proxy.Host.Time.GetUtcNow();
        var counter = new CapCounter(CapPlanner.DayPartition("acme", now), "~cap|key|settle-" + reserved, 10_000_000, "a test cap");
        var reservation = new Reservation(reserved, [counter], null, null);
        var intent = new AuditEntry
        {
            Id = AuditEntry.NewId(now), Timestamp = now, Tenant = "acme", Label = "acme:a:b:c", KeyId = "k", Vendor = "stripe",
            Method = "POST", Path = "/v1/x", Outcome = "in_doubt", CostMicros = reserved,
        };

        Assert.Equal(BeginStatus.Reserved, (await audit.BeginAsync(intent, reservation, CancellationToken.None)).Status);
        Assert.Equal(reserved, await audit.UsedAsync(counter, CancellationToken.None));
        await audit.CompleteAsync(intent with { Outcome = "forwarded", CostMicros = real }, reservation, real, releaseIdempotencyKey: false, CancellationToken.None);

        Assert.Equal(real, await audit.UsedAsync(counter, CancellationToken.None));
    }

    private async Task<HttpResponseMessage> SmsAsync(string vaultKey, string text) =>
        await RawAsync("twilio", vaultKey, "2010-04-01/Accounts/AC1/Messages.json", "application/x-www-form-urlencoded",
            Encoding.UTF8.GetBytes("To=%2B15145535858&From=%2B15149002890&Body=" + Uri.EscapeDataString(text)));

    private async Task<HttpResponseMessage> RawAsync(string vendor, string vaultKey, string pathAndQuery, string? contentType, byte[]? body, HttpMethod? method = null)
    {
        using var client = new HttpClient { BaseAddress = _proxy.Host.BaseAddress };
        var request = new HttpRequestMessage(method ?? HttpMethod.Post, $"/proxy/{vendor}/{pathAndQuery}");
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            if (contentType is not null)
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            }
        }

        request.Headers.Authorization = vendor == "twilio"
            ? new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("AC1:" + vaultKey)))
            : new("Bearer", vaultKey);
        HttpResponseMessage response = await client.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    private async Task<JsonElement> KeyAsync(string id)
    {
        using HttpClient root = _proxy.Host.Client();
        return await Json.ReadAsync(await root.GetAsync($"/v1/keys/{id}"));
    }

    private static Task<PaymentIntent> ChargeAsync(StripeClient stripe, long amount, RequestOptions? options = null) =>
        stripe.V1.PaymentIntents.CreateAsync(
            new PaymentIntentCreateOptions { Amount = amount, Currency = "usd", Confirm = true, PaymentMethod = "pm_card_visa" }, options);

    private StripeClient Client(string apiKey) => new(new StripeClientOptions
    {
        ApiKey = apiKey,
        ApiBase = _proxy.ProxyBase("stripe").ToString().TrimEnd('/'),
        HttpClient = new SystemNetHttpClient(maxNetworkRetries: 0, enableTelemetry: false),
    });
}
