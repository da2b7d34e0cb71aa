using System.Text.Json;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using Keybrake.Domain.Proxy;
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
    public async Task WarmStripeCharge_CostsTwoStorageRoundTrips_AcrossKeyCacheExpiry_IdleKeyOneMore_NewTenantDayOneMore()
    {
        var counter = new StorageRequestCounter();
        await using FakeVendors vendors = await FakeVendors.StartAsync();
        var settings = new Dictionary<string, string?>(vendors.ProxyConfiguration());
        await using KeybrakeHost host = await KeybrakeHost.StartAsync(settings, configureServices: services =>
        {
            services.Replace(ServiceDescriptor.Singleton(counter.Client()));
        });
        JsonElement key = await host.IssueKeyAsync("acme:billing-agent:checkout:rt-1", "stripe", cap: 500m, endpoints: ["POST /v1/payment_intents"], ttl: "2d");
        StripeClient stripe = Client(host, key.Str("key"));

        await ChargeAsync(stripe, 100);
        counter.Reset();
        await ChargeAsync(stripe, 101);
        int warm = counter.Count;
        await ChargeAsync(stripe, 102);
        int warmAgain = counter.Count - warm;

        // Past half the key record's 1 s lifetime: the call is served from memory and one re-read starts
        // behind it. Once that read has landed, a call past the first record's lifetime still makes two.
        host.Time.Advance(TimeSpan.FromMilliseconds(600));
        counter.Reset();
        await ChargeAsync(stripe, 103);
        await SettledAsync(host.Services.GetRequiredService<VaultKeyCache>());
        int halfLife = counter.Count;
        host.Time.Advance(TimeSpan.FromMilliseconds(450));
        counter.Reset();
        await ChargeAsync(stripe, 104);
        int pastFirstLifetime = counter.Count;

        // A key idle for longer than its lifetime is read on the call path.
        host.Time.Advance(TimeSpan.FromMilliseconds(1001));
        counter.Reset();
        await ChargeAsync(stripe, 105);
        int idleKey = counter.Count;

        // The first call of a new UTC day also notes the tenant-day in the activity index (one write, once per instance;
        // the key and the budgets are read again too, their caches having expired).
        host.Time.Advance(TimeSpan.FromDays(1));
        counter.Reset();
        await ChargeAsync(stripe, 106);
        int newDay = counter.Count;
        string newDaySent = counter.Sent;
        counter.Reset();
        await ChargeAsync(stripe, 107);
        int newDayWarm = counter.Count;

        Assert.Equal(2, warm);
        Assert.Equal(2, warmAgain);
        Assert.Equal(3, halfLife);
        Assert.Equal(2, pastFirstLifetime);
        Assert.Equal(3, idleKey);
        Assert.True(newDay == 6 && newDaySent.Split("; ").Count(r => r.Contains(host.TablePrefix + "activity", StringComparison.Ordinal)) == 1, $"{newDay} requests: {newDaySent}");
        Assert.Equal(2, newDayWarm);
        List<string> active = [.. (await TestStorage.AllEntitiesAsync(host.TablePrefix + KeybrakeTables.Activity)).Select(e => e.PartitionKey + "/" + e.RowKey)];
        Assert.Equal(["2026-11/2026-11-02|acme", "2026-11/2026-11-03|acme"], active.Order());
    }

    [Fact]
    public async Task RevokedKey_InSteadyUse_IsRefusedOnceTheKeyCacheLifetimeHasPassed()
    {
        await using FakeVendors vendors = await FakeVendors.StartAsync();
        await using KeybrakeHost host = await KeybrakeHost.StartAsync(new Dictionary<string, string?>(vendors.ProxyConfiguration()));
        JsonElement key = await host.IssueKeyAsync("acme:billing-agent:checkout:rt-2", "stripe", cap: 500m, endpoints: ["POST /v1/payment_intents"]);
        StripeClient stripe = Client(host, key.Str("key"));
        await ChargeAsync(stripe, 100);

        using HttpClient root = host.Client();
        (await root.DeleteAsync($"/v1/keys/{key.Str("id")}")).EnsureSuccessStatusCode();
        StripeException? refused = null;
        TimeSpan sinceRevocation = TimeSpan.Zero;

        // Calls every 250 ms of the host's clock, as a busy agent makes them: background refreshes keep the key warm,
        // and the call 1 s (the key record's lifetime) after the revocation is refused at the latest.
        while (refused is null && sinceRevocation < TimeSpan.FromSeconds(1))
        {
            host.Time.Advance(TimeSpan.FromMilliseconds(250));
            sinceRevocation += TimeSpan.FromMilliseconds(250);
            refused = await Record.ExceptionAsync(() => ChargeAsync(stripe, 101)) as StripeException;
        }

        Assert.NotNull(refused);
        Assert.Equal("keybrake_vault_key_revoked", refused.StripeError.Code);
    }

    /// <summary>Waits for the background refresh to land: it is off the call path, so it may trail the answer.</summary>
    private static async Task SettledAsync(VaultKeyCache cache)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (cache.RefreshesInFlight > 0)
        {
            await Task.Delay(10, deadline.Token);
        }
    }

    private static StripeClient Client(KeybrakeHost host, string key) => new(new StripeClientOptions
    {
        ApiKey = key,
        ApiBase = new Uri(host.BaseAddress, "/proxy/stripe").ToString(),
        HttpClient = new SystemNetHttpClient(maxNetworkRetries: 0, enableTelemetry: false),
    });

    private static Task<PaymentIntent> ChargeAsync(StripeClient stripe, long amount) =>
        stripe.V1.PaymentIntents.CreateAsync(new PaymentIntentCreateOptions { Amount = amount, Currency = "usd", Confirm = true, PaymentMethod = "pm_card_visa" });
}
