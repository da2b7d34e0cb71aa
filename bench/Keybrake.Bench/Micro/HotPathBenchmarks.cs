using System.Text;
using BenchmarkDotNet.Attributes;
using Keybrake.Domain.Keys;
using Keybrake.Domain.Policy;
using Keybrake.Domain.Pricing;
using Keybrake.Domain.Proxy;
using Keybrake.Domain.Vendors;

namespace Keybrake.Bench.Micro;

/// <summary>Per-call work on the proxy's hot path, one function at a time. Inputs are built once, outside the timing.</summary>
[MemoryDiagnoser]
public class HotPathBenchmarks
{
    private const string StripePath = "/v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa/confirm";
    private const string TwilioPath = "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json";

    private static readonly PricingOptions Pricing = new();
    private readonly StripeVendor _stripe = new(new Currencies(Pricing));
    private readonly TwilioVendor _twilio = new(Pricing);
    private readonly ResendVendor _resend = new(Pricing);

    private VaultKey _key = null!;
    private string _presented = null!;
    private string[] _patterns = null!;
    private EndpointPattern[] _parsedPatterns = null!;
    private IReadOnlyList<string> _stripeSegments = null!;
    private ProxyCall _stripeCreate = null!;
    private CostEstimate _stripeEstimate = null!;
    private ProxyCall _twilioCreate = null!;
    private CostEstimate _twilioEstimate = null!;
    private ProxyCall _resendSend = null!;
    private ProxyCall _resendBatch = null!;
    private byte[] _stripeResponse = null!;
    private byte[] _twilioResponse = null!;
    private byte[] _resendResponse = null!;
    private byte[] _resendBatchResponse = null!;

    [GlobalSetup]
    public void Setup()
    {
        (string id, string secret) = VaultKeySecret.Create("acme");
        _presented = secret;
        _patterns = AllowlistOf50();
        _parsedPatterns = [.. _patterns.Select(p => EndpointPattern.Parse(p))];
        _key = new VaultKey
        {
            Id = id,
            Tenant = "acme",
            Label = "acme:billing-agent:checkout:run-1",
            Vendor = "stripe",
            DailyCapMicros = 50_000_000,
            AllowedEndpoints = _patterns,
            CreatedAt = DateTimeOffset.UnixEpoch,
            ExpiresAt = DateTimeOffset.MaxValue,
            SecretHash = VaultKeySecret.Hash(secret),
        };
        _stripeSegments = PathNormalizer.Normalize(StripePath);

        byte[] form = Encoding.ASCII.GetBytes("amount=2000&currency=usd&confirm=true&payment_method=pm_card_visa&metadata%5Border%5D=order-42");
        _stripeCreate = new ProxyCall("stripe", "POST", ["v1", "payment_intents"], "payment_intents.create", "application/x-www-form-urlencoded", form, null);
        _stripeEstimate = _stripe.Estimate(_stripeCreate);
        _twilioCreate = new ProxyCall("twilio", "POST", PathNormalizer.Normalize(TwilioPath), "messages.create", "application/x-www-form-urlencoded",
            Encoding.ASCII.GetBytes("To=%2B15558675310&From=%2B15017122661&Body=Your+order+has+shipped.+Track+it+at+https%3A%2F%2Fexample.com%2Ft%2F42"), null);
        _twilioEstimate = _twilio.Estimate(_twilioCreate);
        _resendSend = new ProxyCall("resend", "POST", ["emails"], "emails.send", "application/json", Encoding.UTF8.GetBytes(Fixtures.ResendSendRequest), null);
        _resendBatch = new ProxyCall("resend", "POST", ["emails", "batch"], "emails.batch", "application/json", Encoding.UTF8.GetBytes(Fixtures.ResendBatchRequest), null);
        _stripeResponse = Encoding.UTF8.GetBytes(Fixtures.StripePaymentIntent);
        _twilioResponse = Encoding.UTF8.GetBytes(Fixtures.TwilioMessage);
        _resendResponse = Encoding.UTF8.GetBytes(Fixtures.ResendSendResponse);
        _resendBatchResponse = Encoding.UTF8.GetBytes(Fixtures.ResendBatchResponse);
    }

    /// <summary>What the gate does with the presented key: find its id, then compare hashes in constant time.</summary>
    [Benchmark]
    public bool VaultKeyVerification() => VaultKeySecret.IdOf(_presented) is not null && VaultKeySecret.Verify(_key, _presented);

    /// <summary>The gate's allowlist check as it runs per call: every stored pattern parsed, then matched; the match is the last one.</summary>
    [Benchmark]
    public bool AllowlistOf50ParsedPerCall() => _key.AllowedEndpoints.Any(p => EndpointPattern.Parse(p).Matches("POST", _stripeSegments));

    /// <summary>The same 50 patterns, parsed once beforehand: what matching alone costs.</summary>
    [Benchmark]
    public bool AllowlistOf50PreParsed() => _parsedPatterns.Any(p => p.Matches("POST", _stripeSegments));

    [Benchmark]
    public int PathNormalizationStripe() => PathNormalizer.Normalize(StripePath).Count;

    [Benchmark]
    public int PathNormalizationTwilio() => PathNormalizer.Normalize(TwilioPath).Count;

    [Benchmark]
    public long StripeEstimatePaymentIntentCreate() => _stripe.Estimate(_stripeCreate).CostMicros;

    [Benchmark]
    public long StripeCostPaymentIntent() => _stripe.Settle(_stripeCreate, _stripeEstimate, _stripeResponse).CostMicros;

    [Benchmark]
    public long TwilioCostMessage() => _twilio.Settle(_twilioCreate, _twilioEstimate, _twilioResponse).CostMicros;

    [Benchmark]
    public long ResendCostSend() => _resend.Settle(_resendSend, CostEstimate.Free, _resendResponse).CostMicros;

    [Benchmark]
    public long ResendCostBatch() => _resend.Settle(_resendBatch, CostEstimate.Free, _resendBatchResponse).CostMicros;

    /// <summary>
    /// 49 patterns that do not match <c>POST /v1/payment_intents/{id}/confirm</c> (other resources, other methods,
    /// wildcards that stop short), then one that does: the worst case for a first-match scan.
    /// </summary>
    private static string[] AllowlistOf50()
    {
        string[] resources =
        [
            "customers", "charges", "refunds", "invoices", "subscriptions", "products", "prices", "coupons", "payouts", "transfers",
            "balance_transactions", "disputes", "setup_intents", "payment_methods", "checkout/sessions", "billing/meters",
        ];
        var patterns = new List<string>();
        for (int i = 0; patterns.Count < 49; i++)
        {
            string resource = resources[i % resources.Length];
            patterns.Add((i / resources.Length) switch
            {
                0 => $"POST /v1/{resource}",
                1 => $"GET /v1/{resource}/*",
                _ => $"POST /v1/{resource}/**",
            });
        }

        patterns.Add("POST /v1/payment_intents/*/confirm");
        return [.. patterns];
    }
}
