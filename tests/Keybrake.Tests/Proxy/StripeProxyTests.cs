using System.Text.Json;
using Azure.Data.Tables;
using Keybrake.Sandbox;
using Keybrake.Tests.Support;
using Stripe;

namespace Keybrake.Tests.Proxy;

/// <summary>Stripe.net, pointed at the proxy with a vault key, against the fake Stripe.</summary>
public sealed class StripeProxyTests(SharedProxyHost shared) : IClassFixture<SharedProxyHost>, IAsyncLifetime
{
    private ProxyHost _proxy = null!;

    public async Task InitializeAsync() => _proxy = await shared.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    private FakeStripe Fake => _proxy.Vendors.Stripe;

    [Fact]
    public async Task PaymentIntentAndRefund_ReachStripeWithTheRealSecret_AndAuditTheirCost()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-1", "stripe", "POST /v1/payment_intents", "POST /v1/refunds");
        StripeClient stripe = Client(key.Str("key"));

        PaymentIntent intent = await stripe.V1.PaymentIntents.CreateAsync(new PaymentIntentCreateOptions
        {
            Amount = 2000,
            Currency = "usd",
            Confirm = true,
            PaymentMethod = "pm_card_visa",
            Expand = ["latest_charge.balance_transaction"],
        });
        Refund refund = await stripe.V1.Refunds.CreateAsync(new RefundCreateOptions { PaymentIntent = intent.Id, Amount = 500 });

        Assert.Equal("succeeded", intent.Status);
        Assert.Equal(500, refund.Amount);
        Assert.All(Fake.Ledger, entry =>
        {
            Assert.Equal("Bearer " + Fake.SecretKey, entry.Authorization);
            Assert.DoesNotContain(key.Str("key"), string.Join("\n", entry.Headers.Values), StringComparison.Ordinal);
        });
        Assert.Equal(2, Fake.Ledger.Count);

        TableEntity charge = await _proxy.AuditRowAsync(intent.StripeResponse.Headers.GetValues("X-Keybrake-Audit-Id").Single());
        Assert.Equal("payment_intents.create", charge.GetString("Operation"));
        Assert.Equal(200, charge.GetInt32("Status"));
        Assert.Equal("forwarded", charge.GetString("Outcome"));
        Assert.Equal(20_000_000, charge.GetInt64("CostMicros"));
        Assert.Equal("parsed", charge.GetString("CostSource"));
        Assert.Equal(Fake.Options.FeeFor(2000) * 10_000, charge.GetInt64("FeeMicros"));
        Assert.Equal(intent.Id, charge.GetString("VendorObjectId"));
        Assert.Equal(Fake.Ledger[0].Headers["Idempotency-Key"], charge.GetString("IdempotencyKey"));
        Assert.StartsWith("req_", charge.GetString("VendorRequestId"), StringComparison.Ordinal);
        Assert.Equal("acme|" + _proxy.Host.Time.GetUtcNow().ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), charge.PartitionKey);
        Assert.Equal("20.000000", intent.StripeResponse.Headers.GetValues("X-Keybrake-Cost-Usd").Single());

        TableEntity refunded = await _proxy.AuditRowAsync(refund.StripeResponse.Headers.GetValues("X-Keybrake-Audit-Id").Single());
        Assert.Equal("refunds.create", refunded.GetString("Operation"));
        Assert.Equal(-5_000_000, refunded.GetInt64("CostMicros"));
    }

    [Fact]
    public async Task AsyncCapture_RecordsNoFeeUntilTheBalanceTransactionExists()
    {
        Fake.Options.AsyncCapture = true;
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-2", "stripe", "POST /v1/payment_intents");

        PaymentIntent intent = await Client(key.Str("key")).V1.PaymentIntents.CreateAsync(new PaymentIntentCreateOptions
        {
            Amount = 1234, Currency = "usd", Confirm = true, PaymentMethod = "pm_card_visa", Expand = ["latest_charge.balance_transaction"],
        });

        TableEntity row = await _proxy.AuditRowAsync(intent.StripeResponse.Headers.GetValues("X-Keybrake-Audit-Id").Single());
        Assert.Equal(12_340_000, row.GetInt64("CostMicros"));
        Assert.Null(row.GetInt64("FeeMicros"));
    }

    [Theory]
    [InlineData("jpy", 5000, 33_500_000)]
    [InlineData("bhd", 1500, 3_975_000)]
    [InlineData("eur", 1999, 21_589_200)]
    public async Task ForeignCurrencies_AreConvertedWithTheirMinorUnits(string currency, long amount, long expectedMicros)
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:fx:run-3", "stripe", "POST /v1/payment_intents");

        PaymentIntent intent = await Client(key.Str("key")).V1.PaymentIntents.CreateAsync(
            new PaymentIntentCreateOptions { Amount = amount, Currency = currency, Confirm = true, PaymentMethod = "pm_card_visa" });

        TableEntity row = await _proxy.AuditRowAsync(intent.StripeResponse.Headers.GetValues("X-Keybrake-Audit-Id").Single());
        Assert.Equal(expectedMicros, row.GetInt64("CostMicros"));
        Assert.Equal(currency, row.GetString("Currency"));
        Assert.Equal(amount, row.GetInt64("AmountMinor"));
    }

    [Fact]
    public async Task UnknownCurrency_IsRefusedBeforeForwarding()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:fx:run-4", "stripe", "POST /v1/payment_intents");

        StripeException error = await Assert.ThrowsAsync<StripeException>(() => Client(key.Str("key")).V1.PaymentIntents.CreateAsync(
            new PaymentIntentCreateOptions { Amount = 100, Currency = "xyz", Confirm = true, PaymentMethod = "pm_card_visa" }));

        Assert.Equal(400, (int)error.HttpStatusCode);
        Assert.Equal("keybrake_unknown_currency", error.StripeError.Code);
        Assert.Empty(Fake.Ledger);
        Assert.Equal("denied", Assert.Single(await _proxy.AuditRowsAsync()).GetString("Outcome"));
    }

    [Fact]
    public async Task EndpointNotAllowed_IsAReadableStripeErrorAndNothingIsForwarded()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-5", "stripe", "POST /v1/refunds");

        StripeException error = await Assert.ThrowsAsync<StripeException>(() => Client(key.Str("key")).V1.PaymentIntents.CreateAsync(
            new PaymentIntentCreateOptions { Amount = 100, Currency = "usd" }));

        Assert.Equal(403, (int)error.HttpStatusCode);
        Assert.Equal("keybrake_endpoint_not_allowed", error.StripeError.Code);
        Assert.Contains("payment_intents.create", error.Message, StringComparison.Ordinal);
        Assert.Empty(Fake.Ledger);
        TableEntity row = Assert.Single(await _proxy.AuditRowsAsync());
        Assert.Equal(("denied", "endpoint_not_allowed", 403), (row.GetString("Outcome"), row.GetString("Reason"), row.GetInt32("Status")));
    }

    [Fact]
    public async Task EmptyAllowlist_AllowsNothing()
    {
        JsonElement key = await _proxy.Host.IssueKeyAsync("acme:reporting-agent:x:run-1", "stripe", endpoints: []);

        await Assert.ThrowsAsync<StripeException>(() => Client(key.Str("key")).V1.Customers.GetAsync("cus_1"));

        Assert.Empty(Fake.Ledger);
    }

    [Fact]
    public async Task InvalidRevokedExpiredOrForeignVendorKeys_AreRefused()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-6", "stripe", "GET /v1/customers/*");
        JsonElement twilioKey = await _proxy.IssueKeyAsync("acme:notify-agent:sms:run-6", "twilio", "GET /**");

        StripeException wrongSecret = await Assert.ThrowsAsync<StripeException>(() => Client(key.Str("key")[..^1] + (key.Str("key")[^1] == 'a' ? "b" : "a")).V1.Customers.GetAsync("cus_1"));
        StripeException notAKey = await Assert.ThrowsAsync<StripeException>(() => Client("sk_live_guess").V1.Customers.GetAsync("cus_1"));
        StripeException otherVendor = await Assert.ThrowsAsync<StripeException>(() => Client(twilioKey.Str("key")).V1.Customers.GetAsync("cus_1"));
        Assert.Equal(401, (int)wrongSecret.HttpStatusCode);
        Assert.Equal(401, (int)notAKey.HttpStatusCode);
        Assert.Equal(403, (int)otherVendor.HttpStatusCode);
        Assert.Equal("keybrake_vendor_mismatch", otherVendor.StripeError.Code);

        using HttpClient root = _proxy.Host.Client();
        await root.DeleteAsync($"/v1/keys/{key.Str("id")}");
        _proxy.Host.Time.Advance(TimeSpan.FromSeconds(2));
        StripeException revoked = await Assert.ThrowsAsync<StripeException>(() => Client(key.Str("key")).V1.Customers.GetAsync("cus_1"));
        Assert.Equal("keybrake_vault_key_revoked", revoked.StripeError.Code);

        JsonElement shortLived = await _proxy.Host.IssueKeyAsync("acme:billing-agent:checkout:run-7", "stripe", endpoints: ["GET /v1/customers/*"], ttl: "10s");
        _proxy.Host.Time.Advance(TimeSpan.FromSeconds(11));
        StripeException expired = await Assert.ThrowsAsync<StripeException>(() => Client(shortLived.Str("key")).V1.Customers.GetAsync("cus_1"));
        Assert.Equal("keybrake_vault_key_expired", expired.StripeError.Code);

        Assert.Empty(Fake.Ledger);
    }

    [Fact]
    public async Task Reads_AreForwardedFreeWithQueryStringsUntouched()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:reporting-agent:export:run-8", "stripe", "GET /v1/payment_intents", "GET /v1/customers/*");
        using var http = new HttpClient { BaseAddress = _proxy.ProxyBase("stripe") };
        http.DefaultRequestHeaders.Authorization = new("Bearer", key.Str("key"));

        HttpResponseMessage list = await http.GetAsync("v1/payment_intents?limit=3&expand[]=data.latest_charge&created[gte]=1700000000");
        HttpResponseMessage customer = await http.GetAsync("v1/customers/cus_123");

        Assert.True(list.IsSuccessStatusCode, await list.Content.ReadAsStringAsync());
        Assert.Equal("limit=3&expand[]=data.latest_charge&created[gte]=1700000000", Fake.Ledger[0].Query.TrimStart('?'));
        Assert.Equal("/v1/customers/cus_123", Fake.Ledger[1].Path);
        Assert.Equal("0.000000", customer.Headers.GetValues("X-Keybrake-Cost-Usd").Single());
        List<TableEntity> rows = await _proxy.AuditRowsAsync();
        Assert.Equal(["customers.retrieve", "payment_intents.list"], rows.Select(r => r.GetString("Operation")).Order());
        Assert.All(rows, r => Assert.Equal(0, r.GetInt64("CostMicros")));
    }

    [Fact]
    public async Task CardDecline_IsPassedThroughAndCostsNothing()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-9", "stripe", "POST /v1/payment_intents");

        StripeException declined = await Assert.ThrowsAsync<StripeException>(() => Client(key.Str("key")).V1.PaymentIntents.CreateAsync(
            new PaymentIntentCreateOptions { Amount = 700, Currency = "usd", Confirm = true, PaymentMethod = "pm_card_chargeDeclined" }));

        Assert.Equal(402, (int)declined.HttpStatusCode);
        Assert.Equal("card_declined", declined.StripeError.Code);
        TableEntity row = Assert.Single(await _proxy.AuditRowsAsync());
        Assert.Equal((402, 0L, "vendor_refused"), (row.GetInt32("Status"), row.GetInt64("CostMicros")!.Value, row.GetString("Reason")));
    }

    private StripeClient Client(string apiKey) => new(new StripeClientOptions
    {
        ApiKey = apiKey,
        ApiBase = _proxy.ProxyBase("stripe").ToString().TrimEnd('/'),
        HttpClient = new SystemNetHttpClient(maxNetworkRetries: 0, enableTelemetry: false),
    });
}
