using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Azure.Data.Tables;
using Azure.Security.KeyVault.Secrets;
using Keybrake.DevHost;
using Keybrake.Domain.Secrets;
using Keybrake.Sandbox;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;

namespace Keybrake.Bench;

/// <summary>
/// What a load client calls for one scenario: a URL and, per worker, the credential to send. With a second URL
/// (another instance on the same tables), odd workers call that one.
/// </summary>
internal sealed record Target(string Name, Uri Url, IReadOnlyList<string> Credentials, Uri? SecondUrl = null);

/// <summary>
/// Everything the macro benchmark calls, started in this process on loopback: the fake Stripe, a bare YARP
/// forwarder in front of it, Keybrake with in-memory stores, and Keybrake on Azurite with its Table requests
/// and Key Vault requests counted. Both Keybrake hosts are the development host: the function classes and the
/// <c>AddKeybrake</c> composition on Kestrel, as in the tests.
/// </summary>
internal sealed class Targets : IAsyncDisposable
{
    public const string ChargePath = "v1/payment_intents";
    private const string RootToken = "bench-root-token-0123456789abcdef";
    private static readonly string[] ChargeOnly = ["POST /v1/payment_intents"];
    private readonly List<WebApplication> _apps = [];
    private readonly Dictionary<Uri, IServiceProvider> _services = [];
    private readonly Uri? _stripeBaseUrl;

    private Targets(FakeVendors vendors, string tablePrefix, Uri? stripeBaseUrl)
    {
        Vendors = vendors;
        TablePrefix = tablePrefix;
        _stripeBaseUrl = stripeBaseUrl;
    }

    public FakeVendors Vendors { get; }

    public string TablePrefix { get; }

    public TableRequestCounter TableRequests { get; } = new();

    public InProcessKeyVault Vault { get; private set; } = null!;

    public Uri YarpBase { get; private set; } = null!;

    public Uri MemoryBase { get; private set; } = null!;

    public Uri AzuriteBase { get; private set; } = null!;

    /// <summary>
    /// Starts everything; <paramref name="memoryStores"/> replaces the in-memory host's stores (default
    /// <see cref="InMemoryStores"/>) and <paramref name="stripeBaseUrl"/> points the Keybrake hosts at another Stripe.
    /// </summary>
    public static async Task<Targets> StartAsync(string storageConnectionString, Action<IServiceCollection>? memoryStores = null, Uri? stripeBaseUrl = null)
    {
        FakeVendors vendors = await FakeVendors.StartAsync();
        var targets = new Targets(vendors, "bench" + Guid.NewGuid().ToString("N")[..10], stripeBaseUrl);
        try
        {
            targets.YarpBase = await targets.StartYarpAsync(vendors.Stripe.BaseUrl);
            targets.MemoryBase = await targets.StartKeybrakeAsync(storageConnectionString, memoryStores ?? InMemoryStores.Replace);
            targets.Vault = new InProcessKeyVault(new Dictionary<string, string>
            {
                [SecretNames.RootToken] = RootToken,
                [SecretNames.StripeSecretKey] = vendors.Stripe.SecretKey,
            });
            targets.AzuriteBase = await targets.StartKeybrakeAsync(storageConnectionString, services => targets.CountStorageAndVault(services, storageConnectionString));
            return targets;
        }
        catch
        {
            await targets.DisposeAsync();
            throw;
        }
    }

    /// <summary>Another Keybrake instance on the same tables (a second function instance), its storage requests counted with the rest.</summary>
    public Task<Uri> StartAzuriteInstanceAsync(string storageConnectionString) =>
        StartKeybrakeAsync(storageConnectionString, services => CountStorageAndVault(services, storageConnectionString));

    /// <summary>The services of the Keybrake host at <paramref name="host"/>, to read its caches' sizes.</summary>
    public IServiceProvider ServicesOf(Uri host) => _services[host];

    public Target Direct(int workers) =>
        new("direct", new Uri(Vendors.Stripe.BaseUrl, ChargePath), Enumerable.Repeat(Vendors.Stripe.SecretKey, workers).ToList());

    public Target Yarp(int workers) =>
        new("yarp", new Uri(YarpBase, ChargePath), Enumerable.Repeat(Vendors.Stripe.SecretKey, workers).ToList());

    /// <summary>Issues vault keys through the operator API: <paramref name="count"/> keys over <paramref name="tenants"/> tenants.</summary>
    public static async Task<List<string>> IssueKeysAsync(Uri host, string tenantPrefix, int count, int tenants, decimal capUsd)
    {
        var keys = new List<string>();
        for (int i = 0; i < count; i++)
        {
            keys.Add((await IssueKeyAsync(host, $"{tenantPrefix}{i % tenants}:billing-agent:bench:run-{i}", capUsd)).Key);
        }

        return keys;
    }

    public static async Task<(string Id, string Key)> IssueKeyAsync(Uri host, string label, decimal capUsd, IReadOnlyList<string>? endpoints = null)
    {
        using HttpClient client = Operator(host);
        using HttpResponseMessage response = await client.PostAsJsonAsync("/v1/keys", new Dictionary<string, object>
        {
            ["label"] = label,
            ["vendor"] = "stripe",
            ["daily_usd_cap"] = capUsd,
            ["allowed_endpoints"] = endpoints ?? ChargeOnly,
            ["expires_in"] = "2h",
        });
        string body = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != HttpStatusCode.Created)
        {
            throw new InvalidOperationException($"Issuing a key failed: {(int)response.StatusCode} {body}");
        }

        using JsonDocument json = JsonDocument.Parse(body);
        return (json.RootElement.GetProperty("id").GetString()!, json.RootElement.GetProperty("key").GetString()!);
    }

    public static async Task PutBudgetAsync(Uri host, string prefix, decimal dailyUsd)
    {
        using HttpClient client = Operator(host);
        using HttpResponseMessage response = await client.PutAsJsonAsync($"/v1/budgets/{prefix}", new Dictionary<string, object> { ["daily_usd"] = dailyUsd });
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"Setting a budget failed: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    /// <summary>A key's spend today, in micro-dollars, as the operator API reports it.</summary>
    public static async Task<long> SpentMicrosAsync(Uri host, string keyId)
    {
        using HttpClient client = Operator(host);
        using JsonDocument json = JsonDocument.Parse(await client.GetStringAsync($"/v1/keys/{keyId}"));
        return decimal.ToInt64(json.RootElement.GetProperty("spent_today_usd").GetDecimal() * 1_000_000m);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (WebApplication app in _apps)
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }

        await Vendors.DisposeAsync();
        Vault?.Dispose();
    }

    private static HttpClient Operator(Uri host)
    {
        var client = new HttpClient { BaseAddress = host };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", RootToken);
        return client;
    }

    private async Task<Uri> StartYarpAsync(Uri vendor)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddHttpForwarder();
        WebApplication app = builder.Build();

        // The same outbound settings as Keybrake's vendor clients: no redirects, cookies, decompression or proxy.
        var invoker = new HttpMessageInvoker(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseProxy = false,
            ConnectTimeout = TimeSpan.FromSeconds(10),
        });
        app.MapForwarder("/{**path}", vendor.ToString().TrimEnd('/'), ForwarderRequestConfig.Empty, HttpTransformer.Default, invoker);
        return await StartAsync(app);
    }

    private async Task<Uri> StartKeybrakeAsync(string storageConnectionString, Action<IServiceCollection> configure)
    {
        var settings = new Dictionary<string, string?>(Vendors.ProxyConfiguration())
        {
            ["Tables:ConnectionString"] = storageConnectionString,
            ["Tables:Prefix"] = TablePrefix,
            ["Secrets:keybrake-root-token"] = RootToken,
            ["AzureWebJobsStorage"] = storageConnectionString,
            ["Queues:Reconcile"] = TablePrefix.ToLowerInvariant() + "-reconcile",
            ["Queues:Nightly"] = TablePrefix.ToLowerInvariant() + "-nightly",

            // Timer runs would add storage traffic the figures do not account for.
            ["DevHost:RunTimers"] = "false",

            // Both hosts log like production does by default for a successful call: nothing per request.
            ["Logging:LogLevel:Default"] = "Warning",
        };
        if (_stripeBaseUrl is not null)
        {
            settings["Vendors:stripe:BaseUrl"] = _stripeBaseUrl.ToString().TrimEnd('/');
        }

        WebApplication app = DevHostApp.Build(["--urls", "http://127.0.0.1:0"], localSettingsPath: null, settings, configure);
        Uri host = await StartAsync(app);
        _services[host] = app.Services;
        return host;
    }

    /// <summary>The real storage and secret adapters, with their requests counted.</summary>
    private void CountStorageAndVault(IServiceCollection services, string storageConnectionString)
    {
        // The composition's client settings, plus the counter.
        var options = new TableClientOptions();
        options.Retry.MaxRetries = 2;
        options.Retry.Delay = TimeSpan.FromMilliseconds(100);
        options.Retry.MaxDelay = TimeSpan.FromSeconds(1);
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(10);
        options.AddPolicy(TableRequests, Azure.Core.HttpPipelinePosition.PerRetry);
        services.Replace(ServiceDescriptor.Singleton(new TableServiceClient(storageConnectionString, options)));

        services.Replace(ServiceDescriptor.Singleton<SecretClient>(Vault.CreateClient()));
        services.Replace(ServiceDescriptor.Singleton(new Infrastructure.Secrets.KeyVaultSecretOptions()));
        services.Replace(ServiceDescriptor.Singleton<ISecretProvider, Infrastructure.Secrets.KeyVaultSecretProvider>());
    }

    private async Task<Uri> StartAsync(WebApplication app)
    {
        await app.StartAsync();
        _apps.Add(app);
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Uri(address.TrimEnd('/') + "/");
    }
}
