using System.Globalization;
using System.Text.Json;
using Keybrake.Tests.Reports;
using Keybrake.Tests.Support;
using Microsoft.Playwright;

namespace Keybrake.Tests.Dashboard;

/// <summary>The dashboard in a real browser over a seeded week: what it shows is what the operator API answers, to the cent.</summary>
public sealed class DashboardBrowserTests(DashboardFixture f) : IClassFixture<DashboardFixture>
{
    private const string Window = SyntheticWeek.WeekWindow;

    [Fact]
    public async Task Week_RendersEveryView_WithTheApisNumbers()
    {
        IPage page = await f.OpenAsync(DashboardFixture.Week, f.Host.RootToken);
        var errors = new List<string>();
        page.Console += (_, message) => { if (message.Type == "error") errors.Add(message.Text); };
        page.PageError += (_, error) => errors.Add(error);
        await LoadedAsync(page);

        // Totals: the period's spend by vendor as GET /v1/spend gives it.
        JsonElement period = await f.GetAsync($"/v1/spend?group_by=vendor&{Window}");
        Assert.True(Sum(period, "cost_usd") > 100m, "the week should have real spend");
        await AssertMoneyAsync(page, "#total-net", Sum(period, "cost_usd"));
        await AssertMoneyAsync(page, "#total-gross", Sum(period, "gross_usd"));
        await AssertMoneyAsync(page, "#total-refunds", Sum(period, "refunds_usd"));
        await AssertMoneyAsync(page, "#total-fees", Sum(period, "fee_usd"));
        Assert.Equal(Count(period, "calls"), await page.InnerTextAsync("#total-calls"));
        Assert.Equal(Count(period, "denied"), await page.InnerTextAsync("#total-denied"));

        // Per day and vendor: each cell is that day's GET /v1/spend; the days add up to the period.
        decimal days = 0;
        for (DateOnly day = SyntheticWeek.Monday; day <= SyntheticWeek.Monday.AddDays(6); day = day.AddDays(1))
        {
            string d = day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            JsonElement daily = await f.GetAsync($"/v1/spend?group_by=vendor&since={d}T00:00:00Z&until={d}T23:59:59.9999999Z");
            foreach (JsonElement group in daily.GetProperty("groups").EnumerateArray())
            {
                await AssertMoneyAsync(page, $"#spend-table tr[data-day='{d}'] td[data-vendor='{group.Str("key")}']", group.GetProperty("cost_usd").GetDecimal());
            }

            await AssertMoneyAsync(page, $"#spend-table tr[data-day='{d}'] td[data-vendor='total']", Sum(daily, "cost_usd"));
            days += Sum(daily, "cost_usd");
        }

        Assert.Equal(Sum(period, "cost_usd"), days);
        await AssertMoneyAsync(page, "#spend-table tr[data-day='period'] td[data-vendor='total']", days);

        // Top tenants as bars.
        await AssertBarsAsync(page, await f.GetAsync($"/v1/spend?group_by=tenant&{Window}"), "Top tenants");

        // Budgets with today's use (gross) and their thresholds.
        JsonElement acmeToday = await f.GetAsync("/v1/spend?label_prefix=acme:");
        await AssertMoneyAsync(page, "#budgets-table tr[data-prefix='acme:'][data-period='daily'] td:nth-child(4)", Sum(acmeToday, "gross_usd"));
        Assert.Contains("past 50%", await page.InnerTextAsync("#budgets-table tr[data-prefix='acme:'][data-period='daily']"), StringComparison.Ordinal);
        Assert.Contains("50% · 80% · 100%", await page.InnerTextAsync("#budgets-table tr[data-prefix='acme:'][data-period='daily']"), StringComparison.Ordinal);

        // Keys near their cap, with today's spend from GET /v1/keys/{id}.
        JsonElement nearCap = await f.GetAsync($"/v1/keys/{f.NearCapKey.Str("id")}");
        ILocator keyRow = page.Locator($"#keys-table tr[data-key-id='{nearCap.Str("id")}']");
        await AssertMoneyAsync(keyRow.Locator("td").Nth(3), nearCap.GetProperty("spent_today_usd").GetDecimal());
        await AssertMoneyAsync(keyRow.Locator("td").Nth(5), nearCap.GetProperty("remaining_usd").GetDecimal());
        Assert.Equal("9.000000", await keyRow.Locator("td").Nth(3).GetAttributeAsync("data-usd"));

        // Alerts of the period: Tuesday's runaway collections agent tripped the loop breaker.
        Assert.True(await page.Locator("#alerts-table tr[data-kind='loop_detected']").CountAsync() > 0);

        // The audit tail: the newest entries, denied ones highlighted with their reason.
        JsonElement audit = await f.GetAsync($"/v1/audit?{Window}&limit=50");
        List<JsonElement> entries = audit.GetProperty("entries").EnumerateArray().ToList();
        Assert.Equal(entries.Count, await page.Locator("#audit-table tbody tr").CountAsync());
        Assert.Contains(entries, e => e.Str("outcome") == "denied");
        foreach (JsonElement entry in entries)
        {
            ILocator row = page.Locator($"#audit-table tr[data-audit-id='{entry.Str("id")}']");
            Assert.Equal(entry.Str("outcome") == "denied" ? "denied" : null, await row.GetAttributeAsync("class"));
            Assert.Equal(entry.GetProperty("reason").GetString() ?? string.Empty, await row.Locator("td.reason").InnerTextAsync());
            await AssertMoneyAsync(row.Locator("td").Nth(6), entry.GetProperty("cost_usd").GetDecimal());
        }

        foreach (string view in new[] { "spend", "breakdown", "budgets", "keys", "alerts", "audit" })
        {
            await page.Locator($"#{view}-view").ScreenshotAsync(new() { Path = Screenshot($"{view}.png") });
        }

        await page.EvaluateAsync("() => window.scrollTo(0, 0)"); // the view screenshots above scrolled down
        await page.ScreenshotAsync(new() { Path = Screenshot("overview.png") });
        await page.ScreenshotAsync(new() { Path = Screenshot("dashboard.png"), FullPage = true });
        Assert.Empty(errors); // a CSP violation or a script error would show here
        Assert.Null(await page.EvaluateAsync<string?>("localStorage.getItem('keybrake.operatorToken')"));
        Assert.DoesNotContain(f.Host.RootToken, page.Url, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DrillDown_FollowsTenantAgentTypeFeatureRun()
    {
        IPage page = await f.OpenAsync(DashboardFixture.Week, f.Host.RootToken);
        await LoadedAsync(page);

        (string Click, string Level, string Prefix, string Title)[] steps =
        [
            ("acme", "agent_type", "acme:", "Top agent types"),
            ("billing-agent", "feature", "acme:billing-agent:", "Top features"),
            ("checkout", "run", "acme:billing-agent:checkout:", "Top runs"),
            ("run-1104", "run", "acme:billing-agent:checkout:run-1104", "Top runs"),
        ];
        foreach ((string click, string level, string prefix, string title) in steps)
        {
            await page.ClickAsync($"#breakdown li[data-key='{click}'] button");
            await page.WaitForFunctionAsync($"() => new URLSearchParams(location.hash.slice(1)).get('prefix') === '{prefix}'");
            await LoadedAsync(page);
            await AssertBarsAsync(page, await f.GetAsync($"/v1/spend?group_by={level}&label_prefix={prefix}&{Window}"), title);
            await AssertMoneyAsync(page, "#total-net", Sum(await f.GetAsync($"/v1/spend?label_prefix={prefix}&{Window}"), "cost_usd"));
            IReadOnlyList<string> labels = await page.Locator("#audit-table tbody td:nth-child(2)").AllInnerTextsAsync();
            Assert.NotEmpty(labels);
            Assert.All(labels, label => Assert.StartsWith(prefix, label, StringComparison.Ordinal));
            await page.Locator("#breakdown-view").ScreenshotAsync(new() { Path = Screenshot($"drilldown-{level}-{click}.png") });
        }

        // The breadcrumb climbs back to all tenants.
        await page.ClickAsync("#crumbs button:text('All tenants')");
        await page.WaitForFunctionAsync("() => document.querySelector('#breakdown-title').textContent === 'Top tenants'");
        await LoadedAsync(page);
        Assert.Equal(3, await page.Locator("#breakdown li").CountAsync());
    }

    [Fact]
    public async Task RevokeFromThePage_NextProxiedCallWithTheKeyIs401()
    {
        string id = f.KeyToRevoke.Str("id");
        IPage page = await f.OpenAsync(DashboardFixture.Week, f.Host.RootToken);
        await LoadedAsync(page);
        ILocator row = page.Locator($"#keys-table tr[data-key-id='{id}']");
        Assert.Equal("40.000000", await row.Locator("td").Nth(3).GetAttributeAsync("data-usd"));

        await row.Locator("button.revoke").ClickAsync();
        await row.Locator("button.confirm-revoke").ClickAsync();
        await row.Locator(".tag:text('revoked')").WaitForAsync();

        Assert.Equal("revoked", (await f.GetAsync($"/v1/keys/{id}")).Str("status"));
        f.Host.Time.Advance(TimeSpan.FromSeconds(2)); // past the proxy's key cache
        Assert.Equal(401, await f.ChargeAsync(f.KeyToRevoke, 100));
    }

    [Fact]
    public async Task TenantToken_SeesOnlyItsTenant()
    {
        IPage page = await f.OpenAsync(DashboardFixture.Week, f.AcmeToken);
        await LoadedAsync(page);

        Assert.Equal(["acme"], await page.Locator("#breakdown li").EvaluateAllAsync<string[]>("items => items.map(i => i.dataset.key)"));
        JsonElement own = await f.GetAsync($"/v1/spend?group_by=vendor&{Window}", f.AcmeToken);
        await AssertMoneyAsync(page, "#total-net", Sum(own, "cost_usd"));
        Assert.NotEqual(Sum(await f.GetAsync($"/v1/spend?group_by=vendor&{Window}"), "cost_usd"), Sum(own, "cost_usd"));
        Assert.All(await page.Locator("#audit-table tbody td:nth-child(2)").AllInnerTextsAsync(), l => Assert.StartsWith("acme:", l, StringComparison.Ordinal));
        Assert.All(await page.Locator("#keys-table tbody tr code").AllInnerTextsAsync(), l => Assert.DoesNotContain("initech", l, StringComparison.Ordinal));
        Assert.All(await page.Locator("#alerts-table tbody td:nth-child(3)").AllInnerTextsAsync(), t => Assert.Equal("acme", t));
        Assert.Equal(0, await page.Locator("#budgets-table tr[data-prefix='initech:billing-agent:']").CountAsync());
        await page.Locator("main").ScreenshotAsync(new() { Path = Screenshot("tenant-acme.png") });

        // Asking for another tenant's labels is refused by the API, and the page says so.
        await page.EvaluateAsync("() => { location.hash = 'since=2026-11-02&until=2026-11-08&prefix=globex:'; }");
        await page.Locator(".state.error[data-for='spend']").WaitForAsync();
        Assert.Contains("403", await page.InnerTextAsync(".state.error[data-for='spend']"), StringComparison.Ordinal);
        Assert.Equal(0, await page.Locator("#audit-table tbody td:text-matches('^globex:')").CountAsync());
    }

    [Fact]
    public async Task BadToken_SaysItWasRefused_AndForgetsIt()
    {
        IPage page = await f.OpenAsync(DashboardFixture.Week, "kbo_0123456789abcdef_notatoken");
        await page.Locator("#status").WaitForAsync();

        Assert.Contains("refused this token (401", await page.InnerTextAsync("#status"), StringComparison.Ordinal);
        Assert.True(await page.IsVisibleAsync("#token-form"));
        Assert.True(await page.IsHiddenAsync("#main"));
        Assert.Null(await page.EvaluateAsync<string?>("sessionStorage.getItem('keybrake.operatorToken')"));
        await page.ScreenshotAsync(new() { Path = Screenshot("bad-token.png") });
    }

    [Fact]
    public async Task ApiUnreachable_ShowsWhatIsWrong()
    {
        IBrowserContext context = await f.Browser.NewContextAsync();
        IPage page = await context.NewPageAsync();
        await page.RouteAsync("**/v1/**", route => route.AbortAsync("connectionrefused"));
        await page.GotoAsync(new Uri(f.Host.BaseAddress, "/dashboard#" + DashboardFixture.Week).ToString());
        await page.FillAsync("#token-input", f.Host.RootToken);
        await page.ClickAsync("#token-form button");

        await page.Locator("#status:text('cannot be reached')").WaitForAsync();
        await page.Locator(".state.error[data-for='spend']").WaitForAsync();
        await page.ScreenshotAsync(new() { Path = Screenshot("api-unreachable.png") });
    }

    /// <summary>Every panel has loaded (or failed): none is busy.</summary>
    private static async Task LoadedAsync(IPage page) => await page.WaitForFunctionAsync(
        "() => !document.querySelector('#main').hidden && document.querySelectorAll('section[aria-busy]').length === 6 && document.querySelectorAll('section[aria-busy=\"true\"]').length === 0",
        null,
        new() { Timeout = 120_000 });

    private static async Task AssertBarsAsync(IPage page, JsonElement report, string title)
    {
        Assert.Equal(title, await page.InnerTextAsync("#breakdown-title"));
        List<JsonElement> groups = report.GetProperty("groups").EnumerateArray().ToList();
        Assert.NotEmpty(groups);
        Assert.Equal(groups.Count, await page.Locator("#breakdown li").CountAsync());
        foreach (JsonElement group in groups)
        {
            await AssertMoneyAsync(page, $"#breakdown li[data-key='{group.Str("key")}'] .value", group.GetProperty("cost_usd").GetDecimal());
        }
    }

    private static Task AssertMoneyAsync(IPage page, string selector, decimal usd) => AssertMoneyAsync(page.Locator(selector), usd);

    /// <summary>The exact amount in <c>data-usd</c>, and the text shown rounded to the cent as the API's decimal would be.</summary>
    private static async Task AssertMoneyAsync(ILocator cell, decimal usd)
    {
        Assert.Equal(usd.ToString("0.000000", CultureInfo.InvariantCulture), await cell.GetAttributeAsync("data-usd"));
        Assert.Equal(Cents(usd), await cell.InnerTextAsync());
    }

    private static string Cents(decimal usd)
    {
        decimal rounded = Math.Round(usd, 2, MidpointRounding.AwayFromZero);
        return (rounded < 0 ? "-$" : "$") + Math.Abs(rounded).ToString("#,##0.00", CultureInfo.InvariantCulture);
    }

    private static decimal Sum(JsonElement report, string field) =>
        report.GetProperty("groups").EnumerateArray().Sum(g => g.GetProperty(field).GetDecimal());

    private static string Count(JsonElement report, string field) =>
        report.GetProperty("groups").EnumerateArray().Sum(g => g.GetProperty(field).GetInt32()).ToString("#,##0", CultureInfo.InvariantCulture);

    private string Screenshot(string name) => Path.Combine(f.ScreenshotDirectory, name);
}
