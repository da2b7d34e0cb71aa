namespace Keybrake.Sandbox;

/// <summary>All three fake vendors, started together; what the proxy's tests and the dev host's sandbox mode use.</summary>
public sealed class FakeVendors : IAsyncDisposable
{
    private FakeVendors(FakeStripe stripe, FakeTwilio twilio, FakeResend resend)
    {
        Stripe = stripe;
        Twilio = twilio;
        Resend = resend;
    }

    public FakeStripe Stripe { get; }

    public FakeTwilio Twilio { get; }

    public FakeResend Resend { get; }

    /// <summary>The three fakes, for loops over all of them.</summary>
    public IReadOnlyList<FakeVendor> All => [Stripe, Twilio, Resend];

    public static async Task<FakeVendors> StartAsync(
        FakeStripeOptions? stripe = null,
        FakeTwilioOptions? twilio = null,
        FakeResendOptions? resend = null,
        CancellationToken cancellationToken = default)
    {
        FakeStripe? fakeStripe = null;
        FakeTwilio? fakeTwilio = null;
        try
        {
            fakeStripe = await FakeStripe.StartAsync(stripe, cancellationToken);
            fakeTwilio = await FakeTwilio.StartAsync(twilio, cancellationToken);
            var fakeResend = await FakeResend.StartAsync(resend, cancellationToken);
            return new FakeVendors(fakeStripe, fakeTwilio, fakeResend);
        }
        catch
        {
            if (fakeTwilio is not null)
            {
                await fakeTwilio.DisposeAsync();
            }

            if (fakeStripe is not null)
            {
                await fakeStripe.DisposeAsync();
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

    /// <summary>Clears the three ledgers.</summary>
    public void Reset()
    {
        Stripe.Reset();
        Twilio.Reset();
        Resend.Reset();
    }

    public async ValueTask DisposeAsync()
    {
        await Stripe.DisposeAsync();
        await Twilio.DisposeAsync();
        await Resend.DisposeAsync();
    }

    private static string WithoutTrailingSlash(Uri uri) => uri.ToString().TrimEnd('/');
}
