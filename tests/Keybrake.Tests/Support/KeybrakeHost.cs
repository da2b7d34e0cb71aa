using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Keybrake.DevHost;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Keybrake.Tests.Support;

/// <summary>
/// The development host on a loopback port with its own tables in Azurite: the production composition,
/// driven over real HTTP. Time is a <see cref="FakeTimeProvider"/> so expiry can be tested.
/// </summary>
public sealed class KeybrakeHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private KeybrakeHost(WebApplication app, string prefix, string rootToken, FakeTimeProvider time, CapturedLogs logs)
    {
        _app = app;
        TablePrefix = prefix;
        RootToken = rootToken;
        Time = time;
        Logs = logs;
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address);
    }

    public Uri BaseAddress { get; }

    public string TablePrefix { get; }

    public string RootToken { get; }

    public FakeTimeProvider Time { get; }

    public CapturedLogs Logs { get; }

    public IServiceProvider Services => _app.Services;

    public static async Task<KeybrakeHost> StartAsync(
        IReadOnlyDictionary<string, string?>? settings = null, string? tablePrefix = null, Action<IServiceCollection>? configureServices = null)
    {
        string prefix = tablePrefix ?? TestStorage.NewPrefix();
        string rootToken = "root-" + Guid.NewGuid().ToString("N");
        var values = new Dictionary<string, string?>
        {
            ["Tables:ConnectionString"] = TestStorage.ConnectionString,
            ["Tables:Prefix"] = prefix,
            ["AzureWebJobsStorage"] = TestStorage.ConnectionString,
            ["Queues:Reconcile"] = prefix + "-reconcile",
            ["Queues:Nightly"] = prefix + "-nightly",
            ["Secrets:keybrake-root-token"] = rootToken,
            // These tests run the timer jobs themselves, on a fake clock.
            ["DevHost:RunTimers"] = "false",
        };
        foreach ((string key, string? value) in settings ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 2, 9, 30, 0, TimeSpan.Zero));
        var logs = new CapturedLogs();
        WebApplication app = DevHostApp.Build(
            ["--urls", "http://127.0.0.1:0"],
            localSettingsPath: null,
            values,
            services =>
            {
                services.AddSingleton<TimeProvider>(time);
                services.AddLogging(b => b.ClearProviders().AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
                configureServices?.Invoke(services);
            });
        await app.StartAsync();
        return new KeybrakeHost(app, prefix, rootToken, time, logs);
    }

    /// <summary>A client for the operator API with the given bearer token (root by default).</summary>
    public HttpClient Client(string? token = null)
    {
        var client = new HttpClient { BaseAddress = BaseAddress };
        if (token != string.Empty)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token ?? RootToken);
        }

        return client;
    }

    public async Task<JsonElement> IssueKeyAsync(
        string label, string vendor = "stripe", decimal cap = 50m, string[]? endpoints = null, string ttl = "1h", string? token = null)
    {
        using HttpClient client = Client(token);
        HttpResponseMessage response = await client.PostAsJsonAsync("/v1/keys", new
        {
            label,
            vendor,
            daily_usd_cap = cap,
            allowed_endpoints = endpoints ?? ["POST /v1/payment_intents", "POST /v1/refunds"],
            expires_in = ttl,
        });
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Created, $"issue failed: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    public async Task<string> IssueTenantTokenAsync(string tenant)
    {
        using HttpClient client = Client();
        HttpResponseMessage response = await client.PostAsJsonAsync("/v1/tokens", new { tenant });
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Created, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("token").GetString()!;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
