using System.Text.Json;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using Keybrake.Sandbox;
using Keybrake.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Stripe;

namespace Keybrake.Tests.Caps;

/// <summary>Storage requests per proxied call are counted, not timed: the design's budget is an assertion.</summary>
public sealed class StorageRoundTripTests
{
    [Fact]
    public async Task WarmStripeCharge_CostsTwoStorageRoundTrips_ColdKeyOneMore()
    {
        var counter = new CountingPolicy();
        await using FakeVendors vendors = await FakeVendors.StartAsync();
        var settings = new Dictionary<string, string?>(vendors.ProxyConfiguration());
        await using KeybrakeHost host = await KeybrakeHost.StartAsync(settings, configureServices: services =>
        {
            var options = new TableClientOptions();
            options.AddPolicy(counter, HttpPipelinePosition.PerRetry);
            services.Replace(ServiceDescriptor.Singleton(new TableServiceClient(TestStorage.ConnectionString, options)));
        });
        JsonElement key = await host.IssueKeyAsync("acme:billing-agent:checkout:rt-1", "stripe", cap: 500m, endpoints: ["POST /v1/payment_intents"]);
        var stripe = new StripeClient(new StripeClientOptions
        {
            ApiKey = key.Str("key"),
            ApiBase = new Uri(host.BaseAddress, "/proxy/stripe").ToString(),
            HttpClient = new SystemNetHttpClient(maxNetworkRetries: 0, enableTelemetry: false),
        });

        await ChargeAsync(stripe, 100);
        counter.Reset();
        await ChargeAsync(stripe, 101);
        int warm = counter.Count;
        await ChargeAsync(stripe, 102);
        int warmAgain = counter.Count - warm;

        host.Time.Advance(TimeSpan.FromMilliseconds(1001));
        counter.Reset();
        await ChargeAsync(stripe, 103);
        int coldKey = counter.Count;

        Assert.Equal(2, warm);
        Assert.Equal(2, warmAgain);
        Assert.Equal(3, coldKey);
    }

    private static Task<PaymentIntent> ChargeAsync(StripeClient stripe, long amount) =>
        stripe.V1.PaymentIntents.CreateAsync(new PaymentIntentCreateOptions { Amount = amount, Currency = "usd", Confirm = true, PaymentMethod = "pm_card_visa" });

    private sealed class CountingPolicy : HttpPipelineSynchronousPolicy
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public void Reset() => Interlocked.Exchange(ref _count, 0);

        public override void OnSendingRequest(HttpMessage message) => Interlocked.Increment(ref _count);
    }
}
