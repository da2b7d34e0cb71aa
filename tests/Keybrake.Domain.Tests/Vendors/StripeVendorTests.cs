using System.Text;
using System.Text.Json;
using Keybrake.Domain.Common;
using Keybrake.Domain.Pricing;
using Keybrake.Domain.Proxy;
using Keybrake.Domain.Tests.Generated;
using Keybrake.Domain.Vendors;

namespace Keybrake.Domain.Tests.Vendors;

/// <summary>
/// Stripe as plain domain logic: operation names as Stripe's API reference names its methods, which calls
/// are bounded how (docs/design.md §4), and the cost read from the response shapes docs/vendors.md documents.
/// Figures use <see cref="TestPricing"/>.
/// </summary>
public sealed class StripeVendorTests
{
    // docs/vendors.md: POST /v1/payment_intents (confirm=true, expanded), 200.
    private const string ConfirmedIntent = """
        {"id":"pi_3PxQ2aLkdIwHu7ix0abc1234","object":"payment_intent","amount":2000,"amount_received":2000,
         "currency":"usd","status":"succeeded","capture_method":"automatic_async","livemode":false,
         "latest_charge":{"id":"ch_3PxQ2aLkdIwHu7ix0xyz5678","object":"charge","amount":2000,"currency":"usd",
           "paid":true,"status":"succeeded","payment_intent":"pi_3PxQ2aLkdIwHu7ix0abc1234",
           "balance_transaction":{"id":"txn_3PxQ2aLkdIwHu7ix0txn0001","object":"balance_transaction","amount":2000,
             "currency":"usd","exchange_rate":null,"fee":88,"net":1912,"type":"charge","status":"pending",
             "fee_details":[{"amount":88,"currency":"usd","description":"Stripe processing fees","type":"stripe_fee"}]}}}
        """;

    // docs/vendors.md: POST /v1/refunds, 200.
    private const string Refund = """
        {"id":"re_1","object":"refund","amount":2000,"charge":"ch_1","currency":"usd","payment_intent":"pi_1","status":"succeeded","balance_transaction":"txn_1"}
        """;

    private readonly StripeVendor _stripe = new(new Currencies(TestPricing.Options()));

    [Theory]
    [InlineData("POST", "v1/payment_intents", "payment_intents.create")]
    [InlineData("GET", "v1/payment_intents", "payment_intents.list")]
    [InlineData("GET", "v1/payment_intents/pi_1", "payment_intents.retrieve")]
    [InlineData("POST", "v1/payment_intents/pi_1", "payment_intents.update")]
    [InlineData("POST", "v1/payment_intents/pi_1/confirm", "payment_intents.confirm")]
    [InlineData("POST", "v1/payment_intents/pi_1/capture", "payment_intents.capture")]
    [InlineData("POST", "v1/payment_intents/pi_1/cancel", "payment_intents.cancel")]
    [InlineData("POST", "v1/charges", "charges.create")]
    [InlineData("POST", "v1/refunds", "refunds.create")]
    [InlineData("POST", "v1/transfers", "transfers.create")]
    [InlineData("POST", "v1/payouts", "payouts.create")]
    [InlineData("POST", "v1/invoices/in_1/pay", "invoices.pay")]
    [InlineData("POST", "v1/subscriptions", "subscriptions.create")]
    [InlineData("DELETE", "v1/subscriptions/sub_1", "subscriptions.delete")]
    [InlineData("DELETE", "v1/customers/cus_1", "customers.delete")]
    [InlineData("GET", "v1/customers/cus_1/balance_transactions", "customers.balance_transactions.list")]
    [InlineData("GET", "v1/customers/cus_1/balance_transactions/cbtxn_1", "customers.balance_transactions.retrieve")]
    [InlineData("POST", "v1/checkout/sessions", "checkout.sessions.create")]
    [InlineData("GET", "v1/checkout/sessions/cs_1", "checkout.sessions.retrieve")]
    [InlineData("POST", "v1/checkout/sessions/cs_1/expire", "checkout.sessions.expire")]
    [InlineData("POST", "v1/billing/meter_events", "billing.meter_events.create")]
    [InlineData("POST", "v1/test_helpers/test_clocks", "test_helpers.test_clocks.create")]
    [InlineData("POST", "v1/treasury/outbound_payments", "treasury.outbound_payments.create")]
    public void Operations_AreNamedAsStripesReferenceNamesThem(string method, string path, string operation) =>
        Assert.Equal(operation, _stripe.Operation(method, path.Split('/')));

    [Theory]
    [InlineData("GET", "payment_intents.list", StripeVendor.BoundKind.Free)]
    [InlineData("GET", "charges.retrieve", StripeVendor.BoundKind.Free)]
    [InlineData("DELETE", "customers.delete", StripeVendor.BoundKind.Free)]
    [InlineData("POST", "customers.create", StripeVendor.BoundKind.Free)]
    [InlineData("POST", "payment_intents.create", StripeVendor.BoundKind.Amount)]
    [InlineData("POST", "charges.create", StripeVendor.BoundKind.Amount)]
    [InlineData("POST", "transfers.create", StripeVendor.BoundKind.Amount)]
    [InlineData("POST", "payouts.create", StripeVendor.BoundKind.Amount)]
    [InlineData("POST", "refunds.create", StripeVendor.BoundKind.Refund)]
    [InlineData("POST", "invoices.pay", StripeVendor.BoundKind.InvoicePay)]
    [InlineData("POST", "subscriptions.create", StripeVendor.BoundKind.WholeAllowance)]
    [InlineData("DELETE", "subscriptions.delete", StripeVendor.BoundKind.WholeAllowance)] // invoice_now can charge at once
    [InlineData("POST", "payment_intents.confirm", StripeVendor.BoundKind.WholeAllowance)]
    [InlineData("POST", "a_resource_stripe_adds_tomorrow.create", StripeVendor.BoundKind.WholeAllowance)] // unknown writes fail safe
    public void EachOperation_IsBoundedAsTheCostModelSays(string method, string operation, StripeVendor.BoundKind kind) =>
        Assert.Equal(kind, StripeVendor.Bound(method, operation));

    [Fact]
    public void AConfirmedIntent_CostsItsAmount_WithTheProcessingFeeFromItsBalanceTransaction()
    {
        CallCost cost = Settle("POST", "v1/payment_intents", "amount=2000&currency=usd&confirm=true", ConfirmedIntent);

        // $20.00; fee 88¢ in the balance transaction's currency (usd).
        Assert.Equal(new CallCost(20_000_000, CostSource.Parsed, 880_000, "usd", 2000, "pi_3PxQ2aLkdIwHu7ix0abc1234"), cost);
    }

    [Fact]
    public void AnIntentWhoseBalanceTransactionIsNotYetAvailable_HasNoFeeYet()
    {
        // Async capture: balance_transaction is often null right after confirm (docs/vendors.md).
        string json = ConfirmedIntent.Replace("\"balance_transaction\":{", "\"balance_transaction\":null,\"bt\":{", StringComparison.Ordinal);

        CallCost cost = Settle("POST", "v1/payment_intents", "amount=2000&currency=usd", json);

        Assert.Equal((20_000_000L, (long?)null, CostSource.Parsed), (cost.CostMicros, cost.FeeMicros, cost.Source));
    }

    [Theory]
    [InlineData("jpy", 5000, 32_500_000)] // zero-decimal: ¥5000 × 0.0065
    [InlineData("JPY", 5000, 32_500_000)]
    [InlineData("kwd", 1500, 4_950_000)] // three-decimal: 1.500 KWD × 3.30
    [InlineData("eur", 999, 10_989_000)] // €9.99 × 1.10
    public void ACharge_CostsItsAmountInUsd_WhateverItsCurrencysMinorUnit(string currency, long amount, long micros)
    {
        string json = $$"""{"id":"ch_1","object":"charge","amount":{{amount}},"currency":"{{currency}}","paid":true,"status":"succeeded","balance_transaction":null}""";

        CallCost cost = Settle("POST", "v1/charges", $"amount={amount}&currency={currency}", json);

        Assert.Equal((micros, CostSource.Parsed, (long?)amount), (cost.CostMicros, cost.Source, cost.AmountMinor));
    }

    [Fact]
    public void ARefund_CostsMinusItsAmount_AndReservesNothing()
    {
        ProxyCall call = Calls.Form(_stripe, "POST", "v1/refunds", null, "payment_intent=pi_1&amount=2000");

        // Money back never frees cap, so there is nothing to reserve before it.
        Assert.Equal(CostEstimate.Free, _stripe.Estimate(call));
        Assert.True(_stripe.CostNeedsResponseBody(call));

        // Stripe returns no fee on a refund (its balance_transaction is an id, not expanded).
        Assert.Equal(new CallCost(-20_000_000, CostSource.Parsed, null, "usd", 2000, "re_1"), _stripe.Settle(call, CostEstimate.Free, Encoding.UTF8.GetBytes(Refund)));
    }

    [Fact]
    public void ARefundInAZeroDecimalCurrency_IsNegativeToo()
    {
        CallCost cost = Settle("POST", "v1/refunds", "charge=ch_1", """{"id":"re_2","object":"refund","amount":300,"currency":"jpy","status":"succeeded"}""");

        Assert.Equal(-1_950_000, cost.CostMicros); // ¥300 × 0.0065
    }

    [Theory]
    [InlineData(2000, 2000, 20_000_000)]
    [InlineData(2000, 0, 0)] // declined or awaiting action: nothing received, nothing spent
    public void AConfirmOrCapture_CostsWhatWasReceived(long amount, long received, long micros)
    {
        string json = $$"""{"id":"pi_1","object":"payment_intent","amount":{{amount}},"amount_received":{{received}},"currency":"usd","status":"{{(received > 0 ? "succeeded" : "requires_payment_method")}}"}""";

        Assert.Equal(micros, Settle("POST", "v1/payment_intents/pi_1/confirm", null, json).CostMicros);
        Assert.Equal(micros, Settle("POST", "v1/payment_intents/pi_1/capture", null, json).CostMicros);
    }

    [Fact]
    public void AnInvoicePayment_CostsItsAmountPaid()
    {
        string json = """{"id":"in_1","object":"invoice","amount_due":5000,"amount_paid":4250,"amount_remaining":0,"currency":"eur","status":"paid"}""";

        Assert.Equal(46_750_000, Settle("POST", "v1/invoices/in_1/pay", null, json).CostMicros); // €42.50 × 1.10
    }

    [Fact]
    public void ASubscriptionWithItsFirstInvoiceExpanded_CostsWhatThatInvoiceTook()
    {
        string json = """{"id":"sub_1","object":"subscription","latest_invoice":{"id":"in_9","object":"invoice","amount_paid":1500,"currency":"usd","status":"paid"}}""";

        CallCost cost = Settle("POST", "v1/subscriptions", "customer=cus_1&items[0][price]=price_1", json);

        Assert.Equal((15_000_000L, CostSource.Parsed), (cost.CostMicros, cost.Source));
    }

    [Fact]
    public void ASubscriptionWithoutItsInvoiceExpanded_KeepsItsReservation_AndIsSettledFromThatInvoiceLater()
    {
        ProxyCall call = Calls.Form(_stripe, "POST", "v1/subscriptions", null, "customer=cus_1");
        var reserved = new CostEstimate(7_000_000);

        CallCost cost = _stripe.Settle(call, reserved, """{"id":"sub_1","object":"subscription","latest_invoice":"in_9"}"""u8);

        Assert.Equal((7_000_000L, CostSource.Estimated, "in_9"), (cost.CostMicros, cost.Source, cost.VendorObjectId));
        Assert.Equal(["v1", "invoices", "in_9"], _stripe.SettlementPath("subscriptions.create", "in_9"));
        Assert.Null(_stripe.SettlementPath("subscriptions.create", "sub_1"));
        Assert.Null(_stripe.SettlementPath("payment_intents.create", "in_9"));
    }

    [Theory]
    [InlineData("open")] // payment_behavior=default_incomplete: the client confirms the payment with Stripe.js, not through the proxy
    [InlineData("draft")]
    public void ASubscriptionWhoseExpandedFirstInvoiceIsNotFinal_KeepsItsReservation_AndIsSettledFromThatInvoiceLater(string status)
    {
        // Nothing has been paid yet, but the invoice can still be paid: its amount_paid of 0 is not the call's cost.
        ProxyCall call = Calls.Form(_stripe, "POST", "v1/subscriptions", null, "customer=cus_1&payment_behavior=default_incomplete&expand[]=latest_invoice");
        string json = $$$"""{"id":"sub_1","object":"subscription","status":"incomplete","latest_invoice":{"id":"in_9","object":"invoice","amount_due":1500,"amount_paid":0,"currency":"usd","status":"{{{status}}}"}}""";

        CallCost cost = _stripe.Settle(call, new CostEstimate(7_000_000), Encoding.UTF8.GetBytes(json));

        Assert.Equal((7_000_000L, CostSource.Estimated, "in_9"), (cost.CostMicros, cost.Source, cost.VendorObjectId));
        Assert.Equal(["v1", "invoices", "in_9"], _stripe.SettlementPath("subscriptions.create", cost.VendorObjectId));
    }

    [Theory]
    [InlineData("paid", 1500, 15_000_000L)]
    [InlineData("void", 0, 0L)]
    [InlineData("uncollectible", 0, 0L)]
    [InlineData("open", 1500, null)] // not final: nothing to settle yet
    [InlineData("draft", 0, null)]
    public void ALaterInvoice_SettlesOnceItIsFinal(string status, long paid, long? micros)
    {
        using JsonDocument invoice = JsonDocument.Parse($$"""{"id":"in_9","object":"invoice","status":"{{status}}","amount_paid":{{paid}},"currency":"usd"}""");

        Assert.Equal(micros, _stripe.SettledCost(invoice.RootElement));
    }

    [Fact]
    public void AResponseInACurrencyWithoutARate_LeavesTheBoundReserved()
    {
        ProxyCall call = Calls.Form(_stripe, "POST", "v1/charges", null, "amount=100&currency=usd");
        var bound = new CostEstimate(1_000_000, "usd", 100);

        CallCost cost = _stripe.Settle(call, bound, """{"id":"ch_1","object":"charge","amount":100,"currency":"xyz"}"""u8);

        Assert.Equal((1_000_000L, CostSource.Estimated), (cost.CostMicros, cost.Source));
    }

    [Fact]
    public void AResponseTooLargeToBuffer_LeavesTheBoundReserved()
    {
        ProxyCall call = Calls.Form(_stripe, "POST", "v1/charges", null, "amount=100&currency=usd");

        Assert.Equal(new CallCost(1_000_000, CostSource.Estimated, null, "usd", 100), _stripe.Settle(call, new CostEstimate(1_000_000, "usd", 100), default));
    }

    [Theory]
    [InlineData("GET", "v1/charges/ch_1")]
    [InlineData("POST", "v1/customers")]
    public void ReadsAndFreeWrites_CostNothing_WhateverTheirAnswerSays(string method, string path)
    {
        ProxyCall call = Calls.Form(_stripe, method, path, null, null);

        Assert.False(_stripe.CostNeedsResponseBody(call));
        Assert.Equal(CallCost.Nothing, _stripe.Settle(call, CostEstimate.Free, """{"id":"ch_1","amount":99999,"currency":"usd"}"""u8));
    }

    [Fact]
    public void AnInDoubtSearch_CostsEverythingItFoundReceived()
    {
        using JsonDocument found = JsonDocument.Parse("""
            {"object":"search_result","data":[
              {"id":"pi_1","amount":1000,"amount_received":1000,"currency":"usd"},
              {"id":"pi_2","amount":900,"amount_received":0,"currency":"usd"},
              {"id":"pi_3","amount":200,"amount_received":200,"currency":"eur"}]}
            """);

        Assert.Equal(10_000_000 + 2_200_000, _stripe.InDoubtCost(found.RootElement)); // $10 + €2 × 1.10
        (IReadOnlyList<string> segments, string query) = _stripe.InDoubtSearch("payment_intents.create", "r1")!.Value;
        Assert.Equal(["v1", "payment_intents", "search"], segments);
        Assert.Equal($"?query=metadata%5B%27{StripeVendor.ReferenceMetadata}%27%5D%3A%27r1%27", query); // Stripe's search syntax: metadata['key']:'value'
        Assert.Null(_stripe.InDoubtSearch("charges.create", "r1"));
    }

    [Fact]
    public void AnAmountCreate_IsTaggedWithItsReference_OtherCallsAreNot()
    {
        ProxyCall create = Calls.Form(_stripe, "POST", "v1/payment_intents", null, "amount=100&currency=usd");
        ProxyCall customer = Calls.Form(_stripe, "POST", "v1/customers", null, "email=a%40b");

        // Appended as one more form pair, name and value escaped, so the agent's own parameters are untouched.
        Assert.Equal($"amount=100&currency=usd&metadata%5B{StripeVendor.ReferenceMetadata}%5D=r%201", Encoding.UTF8.GetString(_stripe.TagForLookup(create, "r 1").Span));
        Assert.Equal("email=a%40b", Encoding.UTF8.GetString(_stripe.TagForLookup(customer, "r1").Span));
    }

    [Theory]
    [InlineData("Bearer kb_live_1", "kb_live_1")]
    [InlineData("bearer kb_live_1 ", "kb_live_1")]
    [InlineData(null, null)]
    [InlineData("Token kb_live_1", null)]
    public void TheVaultKey_IsWhereStripesSdkPutsItsSecretKey(string? authorization, string? key) =>
        Assert.Equal(key, _stripe.ReadVaultKey(authorization));

    [Fact]
    public void TheVaultKey_MayComeAsTheBasicUser_AsCurlDashUSends() =>
        Assert.Equal("kb_live_1", _stripe.ReadVaultKey("Basic " + Convert.ToBase64String("kb_live_1:"u8)));

    [Fact]
    public void Upstream_TheSecretKeyIsABearer_AndThePathIsUnchanged()
    {
        UpstreamAuthorization upstream = _stripe.Authorize(new Dictionary<string, string> { ["stripe-secret-key"] = "sk_test_1" }, ["v1", "charges"]);

        Assert.Equal("Bearer sk_test_1", upstream.AuthorizationHeader);
        Assert.Equal(["v1", "charges"], upstream.Segments);
    }

    [Theory]
    [InlineData(429, "cap_exceeded", "invalid_request_error")]
    [InlineData(403, "endpoint_not_allowed", "invalid_request_error")]
    [InlineData(503, "storage_unavailable", "api_error")]
    public void Denials_UseStripesErrorShape(int status, string code, string type)
    {
        VendorErrorBody error = _stripe.Error(status, code, "why");
        using JsonDocument body = JsonDocument.Parse(error.Body);
        JsonElement e = body.RootElement.GetProperty("error");

        Assert.Equal("application/json", error.ContentType);
        Assert.Equal((type, "keybrake_" + code, "why"), (e.GetProperty("type").GetString(), e.GetProperty("code").GetString(), e.GetProperty("message").GetString()));
    }

    private CallCost Settle(string method, string path, string? body, string response)
    {
        ProxyCall call = Calls.Form(_stripe, method, path, null, body);
        return _stripe.Settle(call, new CostEstimate(123), Encoding.UTF8.GetBytes(response));
    }
}
