namespace Keybrake.Sandbox;

/// <summary>
/// All the fakes, started together: the three vendors the proxy forwards to, and the two billing meters
/// the chargeback export sends to besides Stripe's (Lago, OpenMeter). What the tests and the dev host's
/// sandbox mode use.
/// </summary>
public sealed class FakeVendors : IAsyncDisposable
{
    private FakeVendors(FakeStripe stripe, FakeTwilio twilio, FakeResend resend, FakeLago lago, FakeOpenMeter openMeter)
    {
        Stripe = stripe;
        Twilio = twilio;
        Resend = resend;
        Lago = lago;
        OpenMeter = openMeter;
    }

    public FakeStripe Stripe { get; }

    public FakeTwilio Twilio { get; }

    public FakeResend Resend { get; }

    public FakeLago Lago { get; }

    public FakeOpenMeter OpenMeter { get; }

    /// <summary>Every fake, for loops over all of them.</summary>
    public IReadOnlyList<FakeVendor> All => [Stripe, Twilio, Resend, Lago, OpenMeter];

    public static async Task<FakeVendors> StartAsync(
        FakeStripeOptions? stripe = null,
        FakeTwilioOptions? twilio = null,
        FakeResendOptions? resend = null,
        FakeLagoOptions? lago = null,
        FakeOpenMeterOptions? openMeter = null,
        CancellationToken cancellationToken = default)
    {
        var started = new List<FakeVendor>();
        try
        {
            var fakeStripe = await FakeStripe.StartAsync(stripe, cancellationToken);
            started.Add(fakeStripe);
            var fakeTwilio = await FakeTwilio.StartAsync(twilio, cancellationToken);
            started.Add(fakeTwilio);
            var fakeResend = await FakeResend.StartAsync(resend, cancellationToken);
            started.Add(fakeResend);
            var fakeLago = await FakeLago.StartAsync(lago, cancellationToken);
            started.Add(fakeLago);
            var fakeOpenMeter = await FakeOpenMeter.StartAsync(openMeter, cancellationToken);
            return new FakeVendors(fakeStripe, fakeTwilio, fakeResend, fakeLago, fakeOpenMeter);
        }
        catch
        {
            foreach (var fake in started)
            {
                await fake.DisposeAsync();
            }

            throw;
        }
    }

    /// <summary>
    /// The configuration the proxy reads to use these fakes: <c>Vendors:{vendor}:BaseUrl</c>
    /// (without a trailing slash, like the real defaults https://api.stripe.com) and the
    /// <c>Secrets:{name}</c> vendor secrets. Add it with <c>AddInMemoryCollection</c>; for
    /// environment variables replace ':' with "__".
    /// </summary>
    public IDictionary<string, string?> ProxyConfiguration() => new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
    {
        ["Vendors:stripe:BaseUrl"] = WithoutTrailingSlash(Stripe.BaseUrl),
        ["Vendors:twilio:BaseUrl"] = WithoutTrailingSlash(Twilio.BaseUrl),
        ["Vendors:resend:BaseUrl"] = WithoutTrailingSlash(Resend.BaseUrl),
        ["Secrets:stripe-secret-key"] = Stripe.SecretKey,
        ["Secrets:twilio-account-sid"] = Twilio.AccountSid,
        ["Secrets:twilio-auth-token"] = Twilio.AuthToken,
        ["Secrets:resend-api-key"] = Resend.ApiKey,
    };

    /// <summary>
    /// The chargeback export's configuration for one meter target (<c>stripe_meters</c>, <c>lago</c> or
    /// <c>openmeter</c>): <c>Export:Target</c>, <c>Export:BaseUrl</c> and the meter's secret.
    /// </summary>
    public IDictionary<string, string?> ExportConfiguration(string target)
    {
        (FakeVendor meter, string secretName, string secret) = target switch
        {
            "stripe_meters" => ((FakeVendor)Stripe, "stripe-meter-key", Stripe.SecretKey),
            "lago" => (Lago, "lago-api-key", Lago.ApiKey),
            "openmeter" => (OpenMeter, "openmeter-api-key", OpenMeter.ApiKey),
            _ => throw new ArgumentOutOfRangeException(nameof(target), target, "One of stripe_meters, lago, openmeter."),
        };
        return new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Export:Target"] = target,
            ["Export:BaseUrl"] = WithoutTrailingSlash(meter.BaseUrl),
            ["Secrets:" + secretName] = secret,
        };
    }

    /// <summary>Sets every fake's <see cref="FakeVendorOptions.Clock"/> (e.g. to a test host's fake clock).</summary>
    public void UseClock(TimeProvider clock)
    {
        Stripe.Options.Clock = clock;
        Twilio.Options.Clock = clock;
        Resend.Options.Clock = clock;
        Lago.Options.Clock = clock;
        OpenMeter.Options.Clock = clock;
    }

    /// <summary>Clears every ledger.</summary>
    public void Reset()
    {
        foreach (var fake in All)
        {
            fake.Reset();
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var fake in All)
        {
            await fake.DisposeAsync();
        }
    }

    private static string WithoutTrailingSlash(Uri uri) => uri.ToString().TrimEnd('/');
}
