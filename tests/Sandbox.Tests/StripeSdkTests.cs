using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Stripe;

namespace Keybrake.Sandbox.Tests;

public sealed class StripeSdkTests : IAsyncLifetime
{
    private FakeStripe _fake = null!;
    private StripeClient _client = null!;

    public async Task InitializeAsync()
    {
        _fake = await FakeStripe.StartAsync();
        _client = SdkClients.Stripe(_fake.BaseUrl, _fake.SecretKey);
    }

    public async Task DisposeAsync() => await _fake.DisposeAsync();

    [Fact]
    public async Task Confirmed_payment_intent_with_expand_carries_the_fee()
    {
        var pi = await _client.V1.PaymentIntents.CreateAsync(new PaymentIntentCreateOptions
        {
            Amount = 2000,
            Currency = "usd",
            Confirm = true,
            PaymentMethod = "pm_card_visa",
            Expand = ["latest_charge.balance_transaction"],
            Metadata = new Dictionary<string, string> { ["order"] = "42" },
        });

        Assert.StartsWith("pi_", pi.Id, StringComparison.Ordinal);
        Assert.Equal("succeeded", pi.Status);
        Assert.Equal(2000, pi.AmountReceived);
        Assert.Equal("42", pi.Metadata["order"]);
        Assert.StartsWith("ch_", pi.LatestChargeId, StringComparison.Ordinal);
        var txn = pi.LatestCharge.BalanceTransaction;
        Assert.Equal(88, txn.Fee); // round(2000 × 2.9%) + 30
        Assert.Equal(1912, txn.Net);
        Assert.StartsWith("req_", pi.StripeResponse.RequestId, StringComparison.Ordinal);

        var entry = Assert.Single(_fake.Ledger);
        Assert.Equal("POST", entry.Method);
        Assert.Equal("/v1/payment_intents", entry.Path);
        Assert.Equal("Bearer " + _fake.SecretKey, entry.Authorization);
        Assert.True(entry.Headers.ContainsKey("stripe-version"));
        Assert.True(entry.Headers.ContainsKey("Idempotency-Key")); // Stripe.net adds one to every POST
        Assert.Equal(["latest_charge.balance_transaction"], entry.Form["expand[0]"]); // Stripe.net indexes lists
        Assert.Equal(["2000"], entry.Form["amount"]);
        Assert.Equal(["42"], entry.Form["metadata[order]"]);
        Assert.Equal(200, entry.Status);
        Assert.Equal(pi.Id, entry.ObjectId);
        Assert.Equal(2000, entry.AmountMinor);
        Assert.Equal("usd", entry.Currency);
        Assert.False(entry.Replayed);
    }

    [Fact]
    public async Task Without_expand_latest_charge_is_an_id_and_async_capture_hides_the_balance_transaction()
    {
        var plain = await _client.V1.PaymentIntents.CreateAsync(new PaymentIntentCreateOptions
        {
            Amount = 1000, Currency = "usd", Confirm = true, PaymentMethod = "pm_card_visa",
        });
        Assert.NotNull(plain.LatestChargeId);
        Assert.Null(plain.LatestCharge);
        using (var doc = JsonDocument.Parse(_fake.Ledger[^1].ResponseBody))
        {
            Assert.Equal(JsonValueKind.String, doc.RootElement.GetProperty("latest_charge").ValueKind);
        }

        _fake.Options.AsyncCapture = true;
        var created = await _client.V1.PaymentIntents.CreateAsync(new PaymentIntentCreateOptions
        {
            Amount = 1000, Currency = "usd", Confirm = true, PaymentMethod = "pm_card_visa",
            Expand = ["latest_charge.balance_transaction"],
        });
        Assert.NotNull(created.LatestCharge);
        Assert.Null(created.LatestCharge.BalanceTransactionId);

        var fetched = await _client.V1.PaymentIntents.GetAsync(created.Id, new PaymentIntentGetOptions
        {
            Expand = ["latest_charge.balance_transaction"],
        });
        Assert.Equal(59, fetched.LatestCharge.BalanceTransaction.Fee); // round(29) + 30
        Assert.Equal(created.Id, _fake.Ledger[^1].ObjectId);
        Assert.Equal("GET", _fake.Ledger[^1].Method);

        var list = await _client.V1.PaymentIntents.ListAsync(new PaymentIntentListOptions { Limit = 1 });
        Assert.Equal(created.Id, Assert.Single(list.Data).Id);
        Assert.True(list.HasMore);
    }

    [Fact]
    public async Task Refunds_default_to_the_remaining_amount_and_refuse_too_much()
    {
        var pi = await _client.V1.PaymentIntents.CreateAsync(new PaymentIntentCreateOptions
        {
            Amount = 2000, Currency = "eur", Confirm = true, PaymentMethod = "pm_card_visa",
        });

        var partial = await _client.V1.Refunds.CreateAsync(new RefundCreateOptions { PaymentIntent = pi.Id, Amount = 500 });
        Assert.Equal(500, partial.Amount);
        Assert.Equal("eur", partial.Currency);
        Assert.Equal(pi.Id, partial.PaymentIntentId);
        Assert.Equal(pi.LatestChargeId, partial.ChargeId);
        Assert.Equal("succeeded", partial.Status);
        Assert.StartsWith("txn_", partial.BalanceTransactionId, StringComparison.Ordinal);

        var tooMuch = await Assert.ThrowsAsync<StripeException>(() =>
            _client.V1.Refunds.CreateAsync(new RefundCreateOptions { PaymentIntent = pi.Id, Amount = 5000 }));
        Assert.Equal(HttpStatusCode.BadRequest, tooMuch.HttpStatusCode);
        Assert.Equal("amount_too_large", tooMuch.StripeError.Code);

        var rest = await _client.V1.Refunds.CreateAsync(new RefundCreateOptions { Charge = pi.LatestChargeId });
        Assert.Equal(1500, rest.Amount);
        var entry = _fake.Ledger[^1];
        Assert.Equal(rest.Id, entry.ObjectId);
        Assert.Equal(1500, entry.AmountMinor);
        Assert.Equal("eur", entry.Currency);
    }

    [Fact]
    public async Task Idempotency_key_replays_without_creating_and_rejects_other_parameters()
    {
        var options = new PaymentIntentCreateOptions { Amount = 700, Currency = "usd", Confirm = true, PaymentMethod = "pm_card_visa" };
        var requestOptions = new RequestOptions { IdempotencyKey = "order-7" };

        var first = await _client.V1.PaymentIntents.CreateAsync(options, requestOptions);
        var second = await _client.V1.PaymentIntents.CreateAsync(options, requestOptions);

        Assert.Equal(first.Id, second.Id);
        Assert.Equal("true", second.StripeResponse.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(2, _fake.Ledger.Count);
        Assert.False(_fake.Ledger[0].Replayed);
        Assert.True(_fake.Ledger[1].Replayed);
        Assert.Equal(first.Id, _fake.Ledger[1].ObjectId);

        var list = await _client.V1.PaymentIntents.ListAsync();
        Assert.Single(list.Data);

        var conflict = await Assert.ThrowsAsync<StripeException>(() => _client.V1.PaymentIntents.CreateAsync(
            new PaymentIntentCreateOptions { Amount = 701, Currency = "usd" }, requestOptions));
        Assert.Equal(HttpStatusCode.BadRequest, conflict.HttpStatusCode);
        Assert.Equal("idempotency_error", conflict.StripeError.Type);
    }

    [Fact]
    public async Task Concurrent_request_with_the_same_key_gets_409()
    {
        _fake.Options.ResponseDelay = TimeSpan.FromSeconds(2);
        using var http = new HttpClient();
        Task<HttpResponseMessage> Send() => http.SendAsync(StripePost(_fake, "v1/payment_intents", "amount=100&currency=usd", "same-key"));

        var first = Send();
        await Eventually.True(() => _fake.Ledger.Count == 1); // the first request is in flight (inside the delay)
        using var second = await Send();
        using var firstResponse = await first;

        Assert.Equal(HttpStatusCode.OK, firstResponse.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, second.StatusCode);
        Assert.Contains("idempotency_key_in_use", await second.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        _fake.Options.ResponseDelay = TimeSpan.Zero;
        using var replay = await Send();
        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        Assert.Equal("true", replay.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(await firstResponse.Content.ReadAsStringAsync(), await replay.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Declined_card_is_a_402_card_error()
    {
        var error = await Assert.ThrowsAsync<StripeException>(() => _client.V1.PaymentIntents.CreateAsync(new PaymentIntentCreateOptions
        {
            Amount = 2000, Currency = "usd", Confirm = true, PaymentMethod = "pm_card_chargeDeclined",
        }));
        Assert.Equal(HttpStatusCode.PaymentRequired, error.HttpStatusCode);
        Assert.Equal("card_error", error.StripeError.Type);
        Assert.Equal("card_declined", error.StripeError.Code);
        Assert.Equal("generic_decline", error.StripeError.DeclineCode);
        Assert.Equal(402, _fake.Ledger[^1].Status);
    }

    [Fact]
    public async Task Missing_amount_and_wrong_key_use_stripe_error_shapes()
    {
        using var http = new HttpClient();
        using var missing = await http.SendAsync(StripePost(_fake, "v1/payment_intents", "currency=usd"));
        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        using (var doc = JsonDocument.Parse(await missing.Content.ReadAsStringAsync()))
        {
            var error = doc.RootElement.GetProperty("error");
            Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
            Assert.Equal("parameter_missing", error.GetProperty("code").GetString());
            Assert.Equal("Missing required param: amount.", error.GetProperty("message").GetString());
            Assert.Equal("amount", error.GetProperty("param").GetString());
        }

        Assert.StartsWith("req_", missing.Headers.GetValues("Request-Id").Single(), StringComparison.Ordinal);

        const string wrongKey = "sk_test_wrong_0123456789abcdef";
        var wrong = SdkClients.Stripe(_fake.BaseUrl, wrongKey);
        var unauthorized = await Assert.ThrowsAsync<StripeException>(() => wrong.V1.Customers.GetAsync("cus_123"));
        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.HttpStatusCode);
        Assert.StartsWith("Invalid API Key provided: ", unauthorized.StripeError.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(wrongKey, _fake.Ledger[^1].ResponseBody, StringComparison.Ordinal);
        Assert.Equal(401, _fake.Ledger[^1].Status);

        var customer = await _client.V1.Customers.GetAsync("cus_123");
        Assert.Equal("cus_123", customer.Id);
    }

    [Fact]
    public async Task Charges_payouts_transfers_and_meter_events()
    {
        var charge = await _client.V1.Charges.CreateAsync(new ChargeCreateOptions { Amount = 1000, Currency = "jpy", Source = "tok_visa" });
        Assert.Equal("charge", charge.Object);
        Assert.Equal(1000, charge.Amount);

        var payout = await _client.V1.Payouts.CreateAsync(new PayoutCreateOptions { Amount = 5000, Currency = "usd" });
        Assert.Equal("payout", payout.Object);
        var transfer = await _client.V1.Transfers.CreateAsync(new TransferCreateOptions { Amount = 300, Currency = "usd", Destination = "acct_1" });
        Assert.Equal("transfer", transfer.Object);
        Assert.Equal(300, _fake.Ledger[^1].AmountMinor);

        var meterEvent = await _client.V1.Billing.MeterEvents.CreateAsync(new Stripe.Billing.MeterEventCreateOptions
        {
            EventName = "keybrake_spend",
            Identifier = "tenant-a-2025-01-01",
            Payload = new Dictionary<string, string> { ["stripe_customer_id"] = "cus_1", ["value"] = "1234" },
        });
        Assert.Equal("keybrake_spend", meterEvent.EventName);
        Assert.Equal("1234", Assert.Single(_fake.MeterEvents).Payload["value"]);

        var duplicate = await Assert.ThrowsAsync<StripeException>(() => _client.V1.Billing.MeterEvents.CreateAsync(new Stripe.Billing.MeterEventCreateOptions
        {
            EventName = "keybrake_spend",
            Identifier = "tenant-a-2025-01-01",
            Payload = new Dictionary<string, string> { ["stripe_customer_id"] = "cus_1", ["value"] = "1234" },
        }));
        Assert.Equal(HttpStatusCode.BadRequest, duplicate.HttpStatusCode);
        Assert.Equal("resource_already_exists", duplicate.StripeError.Code);
        Assert.Single(_fake.MeterEvents);

        var credit = await _client.V1.Billing.MeterEvents.CreateAsync(new Stripe.Billing.MeterEventCreateOptions
        {
            EventName = "keybrake_spend",
            Identifier = "tenant-a-2025-01-01-adj-1",
            Payload = new Dictionary<string, string> { ["stripe_customer_id"] = "cus_1", ["value"] = "-200" },
        });
        Assert.Equal("-200", credit.Payload["value"]);
        var fractional = await Assert.ThrowsAsync<StripeException>(() => _client.V1.Billing.MeterEvents.CreateAsync(new Stripe.Billing.MeterEventCreateOptions
        {
            EventName = "keybrake_spend",
            Payload = new Dictionary<string, string> { ["stripe_customer_id"] = "cus_1", ["value"] = "12.5" },
        }));
        Assert.Equal("parameter_invalid_integer", fractional.StripeError.Code);
        Assert.Equal(2, _fake.MeterEvents.Count);
    }

    [Fact]
    public async Task Injected_failures_delays_and_closed_connections()
    {
        _fake.Options.FailWithStatus = 500;
        var serverError = await Assert.ThrowsAsync<StripeException>(() => _client.V1.Customers.GetAsync("cus_1"));
        Assert.Equal(HttpStatusCode.InternalServerError, serverError.HttpStatusCode);
        Assert.Equal("api_error", serverError.StripeError.Type);

        _fake.Options.FailWithStatus = 429;
        var rateLimited = await Assert.ThrowsAsync<StripeException>(() => _client.V1.Customers.GetAsync("cus_1"));
        Assert.Equal("rate_limit", rateLimited.StripeError.Code);
        _fake.Options.FailWithStatus = null;

        _fake.Options.CloseConnectionWithoutResponse = true;
        using var http = new HttpClient();
        await Assert.ThrowsAsync<HttpRequestException>(() => http.SendAsync(StripePost(_fake, "v1/payment_intents", "amount=100&currency=usd&confirm=true")));
        var aborted = _fake.Ledger[^1];
        Assert.True(aborted.Aborted);
        Assert.StartsWith("pi_", aborted.ObjectId, StringComparison.Ordinal); // processed, answer lost
        _fake.Options.CloseConnectionWithoutResponse = false;

        _fake.Options.ResponseDelay = TimeSpan.FromSeconds(5);
        using var impatient = new HttpClient { Timeout = TimeSpan.FromMilliseconds(300) };
        await Assert.ThrowsAsync<TaskCanceledException>(() => impatient.SendAsync(StripePost(_fake, "v1/payment_intents", "amount=100&currency=usd")));
        await Eventually.True(() => _fake.Ledger[^1].Aborted);

        _fake.Reset();
        Assert.Empty(_fake.Ledger);
    }

    internal static HttpRequestMessage StripePost(FakeStripe fake, string path, string form, string? idempotencyKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(fake.BaseUrl, path))
        {
            Content = new StringContent(form, System.Text.Encoding.UTF8, "application/x-www-form-urlencoded"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", fake.SecretKey);
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        return request;
    }
}
