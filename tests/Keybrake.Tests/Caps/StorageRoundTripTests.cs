using System.Text.Json;
using Keybrake.Infrastructure.Storage;
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
    public async Task WarmStripeCharge_CostsTwoStorageRoundTrips_ColdKeyOneMore_NewTenantDayOneMore()
    {
        var counter = new StorageRequestCounter();
        await using FakeVendors vendors = await FakeVendors.StartAsync();
        var settings = new Dictionary<string, string?>(vendors.ProxyConfiguration());
        await using KeybrakeHost host = await KeybrakeHost.StartAsync(settings, configureServices: services =>
        {
            services.Replace(ServiceDescriptor.Singleton(counter.Client()));
        });
        JsonElement key = await host.IssueKeyAsync("acme:billing-agent:checkout:rt-1", "stripe", cap: 500m, endpoints: ["POST /v1/payment_intents"], ttl: "2d");
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

        // The first call of a new UTC day also notes the tenant-day in the activity index (one write, once per instance;
        // the key and the budgets are read again too, their caches having expired).
        host.Time.Advance(TimeSpan.FromDays(1));
        counter.Reset();
        await ChargeAsync(stripe, 104);
        int newDay = counter.Count;
        string newDaySent = counter.Sent;
        counter.Reset();
        await ChargeAsync(stripe, 105);
        int newDayWarm = counter.Count;

        Assert.Equal(2, warm);
        Assert.Equal(2, warmAgain);
        Assert.Equal(3, coldKey);
        Assert.True(newDay == 6 && newDaySent.Split("; ").Count(r => r.Contains(host.TablePrefix + "activity", StringComparison.Ordinal)) == 1, $"{newDay} requests: {newDaySent}");
        Assert.Equal(2, newDayWarm);
        List<string> active = [.. (await TestStorage.AllEntitiesAsync(host.TablePrefix + KeybrakeTables.Activity)).Select(e => e.PartitionKey + "/" + e.RowKey)];
        Assert.Equal(["2026-11/2026-11-02|acme", "2026-11/2026-11-03|acme"], active.Order());
    }

    private static Task<PaymentIntent> ChargeAsync(StripeClient stripe, long amount) =>
        stripe.V1.PaymentIntents.CreateAsync(new PaymentIntentCreateOptions { Amount = amount, Currency = "usd", Confirm = true, PaymentMethod = "pm_card_visa" });
}
