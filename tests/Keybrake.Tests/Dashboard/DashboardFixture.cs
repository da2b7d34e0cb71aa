using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Keybrake.Tests.Reports;
using Keybrake.Tests.Support;
using Microsoft.Playwright;

namespace Keybrake.Tests.Dashboard;

/// <summary>
/// The synthetic week (three tenants, Mon 2026-11-02 .. Sun 2026-11-08) served by the development host, budgets on
/// it, a little of today's (Mon 2026-11-09) traffic so keys sit near their caps, and Debian's chromium driven by
/// Playwright. Chromium must be installed (.ci/run installs it): without it every test fails, none is skipped.
/// </summary>
public sealed class DashboardFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";
    public const string Week = "since=2026-11-02&until=2026-11-08";

    private IPlaywright? _playwright;

    public SyntheticWeek Traffic { get; } = new();

    public KeybrakeHost Host => Traffic.Proxy.Host;

    public IBrowser Browser { get; private set; } = null!;

    public string AcmeToken { get; private set; } = null!;

    /// <summary>A stripe key at 90% of its $10 cap today, for the keys view.</summary>
    public JsonElement NearCapKey { get; private set; }

    /// <summary>A stripe key at its cap today, for the page to revoke.</summary>
    public JsonElement KeyToRevoke { get; private set; }

    public string ScreenshotDirectory { get; } = Path.Combine(AppContext.BaseDirectory, "screenshots");

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException(
                $"The dashboard tests need Debian's chromium at {ChromiumPath}: install it with `apt-get install -y chromium` (.ci/run does).");
        }

        await Traffic.InitializeAsync();
        Host.Time.Advance(TimeSpan.FromHours(9)); // Mon 2026-11-09 09:30 UTC
        AcmeToken = await Host.IssueTenantTokenAsync("acme");

        using HttpClient root = Host.Client();
        await PutBudgetAsync(root, "acme:", new { daily_usd = 60, monthly_usd = 500, alert_thresholds = new[] { 0.5, 0.8, 1.0 } });
        await PutBudgetAsync(root, "initech:billing-agent:", new { daily_usd = 25, alert_thresholds = new[] { 0.8 } });

        NearCapKey = await Host.IssueKeyAsync("initech:billing-agent:trial:run-1109", cap: 10m, ttl: "1d");
        Assert.Equal(200, await ChargeAsync(NearCapKey, 900));
        KeyToRevoke = await Host.IssueKeyAsync("acme:billing-agent:checkout:run-1109", cap: 40m, ttl: "1d");
        Assert.Equal(200, await ChargeAsync(KeyToRevoke, 4000));

        Directory.CreateDirectory(ScreenshotDirectory);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        });
    }

    private static async Task PutBudgetAsync(HttpClient root, string prefix, object budget)
    {
        HttpResponseMessage response = await root.PutAsJsonAsync($"/v1/budgets/{prefix}", budget);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>A Stripe charge through the proxy with a vault key; returns the proxy's status.</summary>
    public async Task<int> ChargeAsync(JsonElement key, long amountMinor)
    {
        using var agent = new HttpClient { BaseAddress = Traffic.Proxy.ProxyBase("stripe") };
        agent.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Str("key"));
        HttpResponseMessage response = await agent.PostAsync("v1/payment_intents", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["amount"] = amountMinor.ToString(CultureInfo.InvariantCulture),
            ["currency"] = "usd",
            ["confirm"] = "true",
            ["payment_method"] = "pm_card_visa",
        }));
        return (int)response.StatusCode;
    }

    /// <summary>A page on the dashboard, its clock at the host's (fake) now so "today" is the server's today.</summary>
    public async Task<IPage> OpenAsync(string fragment, string? token)
    {
        IBrowserContext context = await Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new() { Width = 1400, Height = 1000 } });
        IPage page = await context.NewPageAsync();
        await page.Clock.SetFixedTimeAsync(Host.Time.GetUtcNow().UtcDateTime);
        await page.GotoAsync(new Uri(Host.BaseAddress, "/dashboard#" + fragment).ToString());
        if (token is not null)
        {
            await page.FillAsync("#token-input", token);
            await page.ClickAsync("#token-form button");
        }

        return page;
    }

    public async Task<JsonElement> GetAsync(string path, string? token = null)
    {
        using HttpClient client = Host.Client(token);
        HttpResponseMessage response = await client.GetAsync(path);
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return await Json.ReadAsync(response);
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
        await Traffic.DisposeAsync();
    }
}
