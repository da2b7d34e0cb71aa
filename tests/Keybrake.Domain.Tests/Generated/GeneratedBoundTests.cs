using System.Text.Json;
using Keybrake.Domain.Common;
using Keybrake.Domain.Pricing;
using Keybrake.Domain.Proxy;
using Keybrake.Domain.Vendors;
using Xunit.Abstractions;

namespace Keybrake.Domain.Tests.Generated;

/// <summary>
/// The estimators' promise, over thousands of generated request shapes per money-moving operation: every
/// request is either refused before forwarding or bounded at or above what the fake vendor would charge
/// for it. Set <c>KEYBRAKE_TEST_SEED</c> to replay a printed seed.
/// </summary>
public sealed class GeneratedBoundTests(ITestOutputHelper output)
{
    private const int Cases = 1500;
    private static readonly PricingOptions Pricing = new();
    private readonly Currencies _currencies = new(Pricing);

    [Theory]
    [InlineData("v1/payment_intents")]
    [InlineData("v1/charges")]
    [InlineData("v1/transfers")]
    [InlineData("v1/payouts")]
    public void StripeAmountCreates_AreRefusedOrBoundedAtLeastAtTheCharge(string path)
    {
        var stripe = new StripeVendor(_currencies);
        Run(path, rng => RequestShapes.StripeAmountCreate(rng, path, 5_000), shape =>
        {
            CostEstimate bound = stripe.Estimate(Calls.From(stripe, shape));
            long charged = VendorOracle.StripeCharge(shape) is (long amount, string currency)
                ? (_currencies.IsKnown(currency) ? _currencies.ToUsdMicros(amount, currency) : long.MaxValue)
                : 0;
            return (bound.CostMicros, charged);
        });
    }

    [Fact]
    public void StripeInvoicePay_IsRefusedOrBoundedByTheInvoicesRemainingAmount()
    {
        var stripe = new StripeVendor(_currencies);
        Run("invoices.pay", rng => RequestShapes.StripeInvoicePay(rng, "in_" + rng.Next(1000)), shape =>
        {
            ProxyCall call = Calls.From(stripe, shape);
            CostEstimate estimate = stripe.Estimate(call);
            Assert.Equal(["v1", "invoices", shape.Path.Split('/')[2]], estimate.LookupPath);
            long remaining = shape.Body.Length % 7_000 + 1;
            using JsonDocument invoice = JsonDocument.Parse($"{{\"id\":\"in_1\",\"object\":\"invoice\",\"amount_remaining\":{remaining},\"currency\":\"eur\"}}");
            return (stripe.BoundFromLookup(call, invoice.RootElement).CostMicros, _currencies.ToUsdMicros(remaining, "eur"));
        });
    }

    [Fact]
    public void StripeSubscriptionCreate_IsRefusedOrBoundedByTheWholeAllowance()
    {
        var stripe = new StripeVendor(_currencies);
        Run("subscriptions.create", rng => RequestShapes.StripeSubscriptionCreate(rng, ["price_a", "price_b"]), shape =>
        {
            Assert.True(stripe.Estimate(Calls.From(stripe, shape)).WholeAllowance, shape.Description);
            return (long.MaxValue, long.MaxValue);
        });
    }

    [Fact]
    public void TwilioMessages_AreRefusedOrBoundedAtLeastAtTheSettledPrice()
    {
        var twilio = new TwilioVendor(Pricing);
        string sid = "AC" + new string('0', 32);
        Run("messages.create", rng => RequestShapes.TwilioMessage(rng, sid), shape =>
        {
            CostEstimate bound = twilio.Estimate(Calls.From(twilio, shape));
            decimal price = VendorOracle.TwilioPriceUsd(shape, Pricing.TwilioPricePerSegmentUsd, perMediaUsd: 0.0200m);
            return (bound.CostMicros, Usd.ToMicros(price));
        });
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ResendSends_AreRefusedOrBoundedAtLeastAtEveryEmail(bool batch)
    {
        var resend = new ResendVendor(Pricing);
        Run(batch ? "emails.batch" : "emails.send", rng => RequestShapes.ResendEmails(rng, batch), shape =>
        {
            CostEstimate bound = resend.Estimate(Calls.From(resend, shape));
            return (bound.CostMicros, Currencies.PriceMicros(Pricing.ResendPricePerEmailUsd, VendorOracle.ResendEmails(shape, batch)));
        });
    }

    /// <summary>
    /// Generates <see cref="Cases"/> shapes; each must be refused as unreadable (or for its currency) or
    /// bounded at or above the charge. Both outcomes must occur often, or the generator proves nothing.
    /// </summary>
    private void Run(string name, Func<Random, RequestShape> generate, Func<RequestShape, (long Bound, long Charged)> check)
    {
        int seed = RequestShapes.Seed();
        var rng = new Random(seed);
        int refused = 0, bounded = 0, charged = 0;
        for (int i = 0; i < Cases; i++)
        {
            RequestShape shape = generate(rng);
            try
            {
                (long bound, long charge) = check(shape);
                Assert.True(bound >= charge, $"{name} case {i} of seed {seed}: bound {bound} < charged {charge}: {shape.Description}");
                Assert.True(bound > 0, $"{name} case {i} of seed {seed}: a money-moving call bounded at 0: {shape.Description}");
                bounded++;
                charged += charge > 0 ? 1 : 0;
            }
            catch (KeybrakeException e) when (e.Code is RequestParameters.UnreadableCode or "unknown_currency")
            {
                refused++;
            }
        }

        output.WriteLine($"{name}: seed {seed} (KEYBRAKE_TEST_SEED={seed} replays it), {Cases} cases: {bounded} bounded ({charged} charged by the fake), {refused} refused as unreadable");
        Assert.True(bounded > Cases / 5, $"only {bounded} of {Cases} bounded (seed {seed}): the generator hardly reaches the vendor");
        Assert.True(refused > Cases / 50, $"only {refused} of {Cases} refused (seed {seed}): the generator hardly tries odd shapes");
    }
}
