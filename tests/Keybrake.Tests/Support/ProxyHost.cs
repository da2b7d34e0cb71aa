using System.Text.Json;
using Azure.Data.Tables;
using Keybrake.Sandbox;
using Microsoft.Extensions.DependencyInjection;

namespace Keybrake.Tests.Support;

/// <summary>Fake vendors on loopback and a Keybrake host pointed at them, over Azurite.</summary>
public sealed class ProxyHost : IAsyncDisposable
{
    private ProxyHost(FakeVendors vendors, KeybrakeHost host)
    {
        Vendors = vendors;
        Host = host;
    }

    public FakeVendors Vendors { get; }

    public KeybrakeHost Host { get; }

    public Uri ProxyBase(string vendor) => new(Host.BaseAddress, $"/proxy/{vendor}/");

    /// <param name="ownVendorAccounts">
    /// Tenants that have vendor accounts of their own (the fakes' secrets as <c>{secret}--{tenant}</c>, and no
    /// shared secret), so the shared-account ownership checks do not apply: for tests about something else.
    /// </param>
    public static async Task<ProxyHost> StartAsync(
        IReadOnlyDictionary<string, string?>? settings = null, FakeVendors? vendors = null, Action<IServiceCollection>? configureServices = null,
        IReadOnlyList<string>? ownVendorAccounts = null)
    {
        vendors ??= await FakeVendors.StartAsync();
        var values = new Dictionary<string, string?>(vendors.ProxyConfiguration());
        foreach ((string name, string? secret) in vendors.ProxyConfiguration().Where(s => s.Key.StartsWith("Secrets:", StringComparison.Ordinal)))
        {
            foreach (string tenant in ownVendorAccounts ?? [])
            {
                values[name + "--" + tenant] = secret;
                values[name] = null;
            }
        }

        foreach ((string key, string? value) in settings ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        return new ProxyHost(vendors, await KeybrakeHost.StartAsync(values, configureServices: configureServices));
    }

    /// <summary>Every audit row of this host (not the counters that share its partitions), newest first within a partition.</summary>
    public Task<List<TableEntity>> AuditRowsAsync() => AuditRowsAsync(Host.TablePrefix);

    public static async Task<List<TableEntity>> AuditRowsAsync(string tablePrefix)
    {
        var rows = new List<TableEntity>();
        await foreach (TableEntity row in TestStorage.Service().GetTableClient(tablePrefix + "audit").QueryAsync<TableEntity>(e => e.RowKey.CompareTo("~") < 0))
        {
            rows.Add(row);
        }

        return rows;
    }

    public async Task<TableEntity> AuditRowAsync(string auditId) =>
        (await AuditRowsAsync()).Single(r => r.RowKey == auditId);

    public Task<JsonElement> IssueKeyAsync(string label, string vendor, params string[] endpoints) =>
        Host.IssueKeyAsync(label, vendor, cap: 500m, endpoints: endpoints);

    /// <summary>An agent's client for Stripe through the proxy, with a vault key.</summary>
    public HttpClient StripeAgent(JsonElement key)
    {
        var agent = new HttpClient { BaseAddress = ProxyBase("stripe") };
        agent.DefaultRequestHeaders.Authorization = new("Bearer", key.Str("key"));
        return agent;
    }

    /// <summary>A confirmed payment intent of <paramref name="amount"/> cents through the proxy.</summary>
    public async Task<HttpResponseMessage> StripeChargeAsync(JsonElement key, int amount)
    {
        using HttpClient agent = StripeAgent(key);
        return await agent.PostAsync("v1/payment_intents", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["amount"] = amount.ToString(System.Globalization.CultureInfo.InvariantCulture), ["currency"] = "usd", ["confirm"] = "true", ["payment_method"] = "pm_card_visa",
        }));
    }

    /// <summary>A charge Stripe makes but answers too late: the proxy times out and leaves it in doubt. Returns its audit id.</summary>
    public async Task<string> TimeOutAStripeChargeAsync(JsonElement key, int amount)
    {
        HttpResponseMessage response = await WhileStripeAnswersTooLateAsync(() => StripeChargeAsync(key, amount));
        Assert.Equal(System.Net.HttpStatusCode.GatewayTimeout, response.StatusCode);
        return response.Headers.GetValues("X-Keybrake-Audit-Id").Single();
    }

    /// <summary>Sends <paramref name="call"/> while the fake Stripe answers only after the proxy's timeout (it still acts).</summary>
    public async Task<HttpResponseMessage> WhileStripeAnswersTooLateAsync(Func<Task<HttpResponseMessage>> call)
    {
        Vendors.Stripe.Options.ResponseDelay = TimeSpan.FromSeconds(5);
        try
        {
            return await call();
        }
        finally
        {
            Vendors.Stripe.Options.ResponseDelay = TimeSpan.Zero;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        await Vendors.DisposeAsync();
    }
}
