using System.Text;
using System.Text.Json;
using Keybrake.Domain.Common;
using Keybrake.Domain.Pricing;
using Keybrake.Domain.Proxy;
using Keybrake.Domain.Tests.Generated;
using Keybrake.Domain.Vendors;

namespace Keybrake.Domain.Tests.Vendors;

/// <summary>Each vendor's estimator as plain domain logic: what bounds each operation, and what is refused.</summary>
public sealed class EstimatorTests
{
    private static readonly PricingOptions Pricing = new();
    private readonly StripeVendor _stripe = new(new Currencies(Pricing));
    private readonly TwilioVendor _twilio = new(Pricing);
    private readonly ResendVendor _resend = new(Pricing);

    [Theory]
    [InlineData(null, "amount=2000&currency=usd&confirm=true")]
    [InlineData("?amount=2000&currency=usd&confirm=true", null)]
    [InlineData("?amount=2000", "currency=usd&confirm=true")]
    [InlineData("?currency=usd", "amount=1&amount=2000")]
    [InlineData(null, "amount=2000&currency=USD")]
    public void StripeCreate_IsBoundedByItsAmountWhereverItIs(string? query, string? body)
    {
        CostEstimate bound = _stripe.Estimate(Calls.Form(_stripe, "POST", "v1/payment_intents", query, body));

        Assert.Equal((20_000_000, "usd", 2000L), (bound.CostMicros, bound.Currency, bound.AmountMinor));
        Assert.False(bound.WholeAllowance);
    }

    [Theory]
    [InlineData("v1/charges")]
    [InlineData("v1/transfers")]
    [InlineData("v1/payouts")]
    public void OtherAmountCreates_AreBoundedTheSameWay(string path) =>
        Assert.Equal(5_000_000, _stripe.Estimate(Calls.Form(_stripe, "POST", path, "?amount=500&currency=usd", null)).CostMicros);

    [Fact]
    public void StripeCreate_InOtherCurrencies_IsConverted()
    {
        Assert.Equal(33_500_000, _stripe.Estimate(Calls.Form(_stripe, "POST", "v1/payment_intents", null, "amount=5000&currency=jpy")).CostMicros);
        Assert.Equal(3_250_000, _stripe.Estimate(Calls.Form(_stripe, "POST", "v1/payment_intents", null, "amount=1000&currency=kwd")).CostMicros);
    }

    [Theory]
    [InlineData(null, "currency=usd")]
    [InlineData(null, "amount=100")]
    [InlineData(null, "amount=+100&currency=usd")]
    [InlineData(null, "amount=1e4&currency=usd")]
    [InlineData("?amount=100", "amount=100&currency=usd")]
    [InlineData("?currency=usd", "amount=100&currency=usd")]
    [InlineData(null, "amount=100&currency=us")]
    [InlineData(null, "amount=100&currency=+usd")]
    public void StripeCreate_WithoutOneUnambiguousAmountAndCurrency_IsUnreadable(string? query, string? body) =>
        RequestParametersTests.AssertUnreadable(() => _stripe.Estimate(Calls.Form(_stripe, "POST", "v1/payment_intents", query, body)));

    [Fact]
    public void StripeCreate_InAnUnknownCurrency_IsRefused() =>
        Assert.Equal("unknown_currency", Assert.Throws<KeybrakeException>(() =>
            _stripe.Estimate(Calls.Form(_stripe, "POST", "v1/payment_intents", null, "amount=100&currency=xyz"))).Code);

    [Fact]
    public void StripeInvoicePay_IsBoundedByTheInvoicesAmountRemaining()
    {
        ProxyCall call = Calls.Form(_stripe, "POST", "v1/invoices/in_123/pay", null, null);
        CostEstimate estimate = _stripe.Estimate(call);
        using JsonDocument invoice = JsonDocument.Parse("""{"id":"in_123","object":"invoice","amount_due":9000,"amount_remaining":4250,"currency":"usd"}""");

        Assert.Equal(["v1", "invoices", "in_123"], estimate.LookupPath);
        Assert.Equal(42_500_000, _stripe.BoundFromLookup(call, invoice.RootElement).CostMicros);
    }

    [Theory]
    [InlineData("""{"id":"in_1","currency":"usd"}""")]
    [InlineData("""{"id":"in_1","amount_remaining":"4250","currency":"usd"}""")]
    [InlineData("""{"id":"in_1","amount_remaining":-1,"currency":"usd"}""")]
    [InlineData("""{"id":"in_1","amount_remaining":100}""")]
    public void StripeInvoicePay_WithAnInvoiceThatCannotBeRead_HasNoBound(string json)
    {
        using JsonDocument invoice = JsonDocument.Parse(json);

        Assert.Equal("bound_unavailable", Assert.Throws<KeybrakeException>(() =>
            _stripe.BoundFromLookup(Calls.Form(_stripe, "POST", "v1/invoices/in_1/pay", null, null), invoice.RootElement)).Code);
    }

    [Theory]
    [InlineData("v1/subscriptions")]
    [InlineData("v1/payment_intents/pi_1/confirm")]
    [InlineData("v1/payment_intents/pi_1/capture")]
    [InlineData("v1/some_new_thing")]
    [InlineData("v1/treasury/outbound_payments")]
    [InlineData("v1/subscriptions/sub_1")]
    [InlineData("v1/invoices/in_1/finalize")]
    public void StripeWritesNothingBounds_ReserveTheWholeAllowance(string path) =>
        Assert.True(_stripe.Estimate(Calls.Form(_stripe, "POST", path, null, "customer=cus_1")).WholeAllowance);

    [Fact]
    public void StripeSubscriptionCancel_CanInvoiceAtOnce_SoReservesTheWholeAllowance() =>
        Assert.True(_stripe.Estimate(Calls.Form(_stripe, "DELETE", "v1/subscriptions/sub_1", "?invoice_now=true", null)).WholeAllowance);

    [Theory]
    [InlineData("GET", "v1/payment_intents")]
    [InlineData("GET", "v1/invoices/in_1")]
    [InlineData("DELETE", "v1/invoices/in_1")]
    [InlineData("POST", "v1/customers")]
    [InlineData("POST", "v1/refunds")]
    [InlineData("POST", "v1/payment_intents/pi_1")]
    public void StripeReadsAndWritesThatMoveNoMoney_AreFree_EvenUnreadable(string method, string path)
    {
        // Reads are forwarded as they are: a body the proxy could not read does not matter to them.
        var call = new ProxyCall("stripe", method, path.Split('/'), _stripe.Operation(method, path.Split('/')), "text/plain", new byte[] { 0xFF }, null);

        Assert.Equal(CostEstimate.Free, _stripe.Estimate(call));
    }

    [Fact]
    public void StripeUnboundedWrites_AreStillRefusedWhenUnreadable() =>
        RequestParametersTests.AssertUnreadable(() => _stripe.Estimate(Calls.Form(_stripe, "POST", "v1/subscriptions", null, "a=1", "application/json")));

    [Theory]
    [InlineData(null, "To=%2B1555&Body=hello")]
    [InlineData("?Body=hello&To=%2B1555", null)]
    [InlineData("?Body=hello", "To=%2B1555")]
    public void TwilioMessage_CountsTheBodyWhereverItIs(string? query, string? body) =>
        Assert.Equal(8_300, _twilio.Estimate(Calls.Form(_twilio, "POST", "2010-04-01/Accounts/AC1/Messages.json", query, body)).CostMicros);

    [Theory]
    [InlineData(160, "a", 1)]
    [InlineData(161, "a", 2)]
    [InlineData(1600, "a", 11)]
    [InlineData(70, "é€ж", 1)]
    [InlineData(71, "ж", 2)]
    [InlineData(1600, "ж", 24)]
    [InlineData(1600, "😀", 25)] // 800 pairs, never split: 33 per part of 67 units, so 25 parts (not 1600 / 67 rounded up)
    [InlineData(80, "€", 1)]
    [InlineData(81, "€", 2)]
    public void TwilioMessage_CountsSegmentsOfLongAndUnicodeBodies(int length, string alphabet, int segments)
    {
        string text = string.Concat(Enumerable.Repeat(alphabet, length / alphabet.Length + 1))[..length];
        string body = "To=%2B1555&Body=" + Uri.EscapeDataString(text);

        Assert.Equal(segments * 8_300, _twilio.Estimate(Calls.Form(_twilio, "POST", "2010-04-01/Accounts/AC1/Messages.json", null, body)).CostMicros);
    }

    [Fact]
    public void TwilioMediaMessage_AddsTheMediaPrice() =>
        Assert.Equal(22_000 + 8_300, _twilio.Estimate(Calls.Form(_twilio, "POST", "2010-04-01/Accounts/AC1/Messages.json", "?MediaUrl=https%3A%2F%2Fx", "Body=hi")).CostMicros);

    [Theory]
    [InlineData(null, "Body=a&Body=b")]
    [InlineData("?Body=a", "Body=b")]
    [InlineData(null, "Body=hi", "application/json")]
    public void TwilioMessage_WithTwoBodiesOrUnreadable_IsRefused(string? query, string? body, string contentType = "application/x-www-form-urlencoded") =>
        RequestParametersTests.AssertUnreadable(() => _twilio.Estimate(Calls.Form(_twilio, "POST", "2010-04-01/Accounts/AC1/Messages.json", query, body, contentType)));

    [Fact]
    public void TwilioCallsAndOtherWrites_ReserveTheWholeAllowance_MessageUpdatesAreFree()
    {
        Assert.True(_twilio.Estimate(Calls.Form(_twilio, "POST", "2010-04-01/Accounts/AC1/Calls.json", null, "To=%2B1")).WholeAllowance);
        Assert.Equal(CostEstimate.Free, _twilio.Estimate(Calls.Form(_twilio, "POST", "2010-04-01/Accounts/AC1/Messages/SM1.json", null, "Body=")));
        Assert.Equal(CostEstimate.Free, _twilio.Estimate(Calls.Form(_twilio, "GET", "2010-04-01/Accounts/AC1/Messages.json", null, null)));
    }

    [Theory]
    [InlineData("emails", """{"from":"a@x","to":["b@x"],"subject":"s"}""", 1)]
    [InlineData("emails/batch", """[{"from":"a@x"},{"from":"a@x"},{"from":"a@x"}]""", 3)]
    public void ResendSends_CountEveryEmail(string path, string json, int emails) =>
        Assert.Equal(emails * 900, _resend.Estimate(Json(path, json)).CostMicros);

    [Theory]
    [InlineData("emails/batch", """{"from":"a@x"}""", "application/json")]
    [InlineData("emails", """[{"from":"a@x"}]""", "application/json")]
    [InlineData("emails/batch", """[{"from":"a@x"},]""", "application/json")]
    [InlineData("emails/batch", """/* x */[{"from":"a@x"}]""", "application/json")]
    [InlineData("emails/batch", """[{"from":"a@x"}]""", "text/plain")]
    [InlineData("emails/batch", """[{"from":"a@x"}]""", "application/json; charset=utf-16")]
    [InlineData("emails/batch", """[{"from":"a@x"}]""", null)]
    public void ResendBodiesReadableMoreThanOneWay_AreRefused(string path, string json, string? contentType) =>
        RequestParametersTests.AssertUnreadable(() => _resend.Estimate(Json(path, json, contentType)));

    [Fact]
    public void ResendBodyWithAByteOrderMarkOrBadUtf8_IsRefused()
    {
        RequestParametersTests.AssertUnreadable(() => _resend.Estimate(Json("emails", "{}", bytes: [0xEF, 0xBB, 0xBF, .. "{}"u8])));
        RequestParametersTests.AssertUnreadable(() => _resend.Estimate(Json("emails", "{}", bytes: [.. "{\"a\":\""u8, 0xC3, .. "\"}"u8])));
    }

    [Fact]
    public void ResendBroadcastSends_AreUnbounded_DomainsAndReadsAreFree()
    {
        Assert.True(_resend.Estimate(Json("broadcasts/b_1/send", "{}")).WholeAllowance);
        Assert.Equal(CostEstimate.Free, _resend.Estimate(Json("domains", "{}")));
        Assert.Equal(CostEstimate.Free, _resend.Estimate(new ProxyCall("resend", "GET", ["emails", "e_1"], "emails.get", null, default, null)));
    }

    private ProxyCall Json(string path, string json, string? contentType = "application/json", byte[]? bytes = null)
    {
        string[] segments = path.Split('/');
        return new ProxyCall("resend", "POST", segments, _resend.Operation("POST", segments), contentType, bytes ?? Encoding.UTF8.GetBytes(json), null);
    }
}
