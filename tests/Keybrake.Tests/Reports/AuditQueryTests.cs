using System.Net;
using System.Text.Json;
using Keybrake.Tests.Support;

namespace Keybrake.Tests.Reports;

/// <summary>GET /v1/audit: newest first, filtered, paged with signed cursors, confined to the caller's tenant.</summary>
public sealed class AuditQueryTests : IAsyncLifetime
{
    private ProxyHost _proxy = null!;
    private readonly List<(string Tenant, string Label, long CostMicros, DateTimeOffset At)> _sent = [];

    public async Task InitializeAsync()
    {
        _proxy = await ProxyHost.StartAsync();
        JsonElement acmeBilling = await _proxy.Host.IssueKeyAsync("acme:billing-agent:checkout:run-1", "stripe", 500m, ["POST /v1/payment_intents"], "7d");
        JsonElement acmeNotify = await _proxy.Host.IssueKeyAsync("acme:notify-agent:email:run-2", "resend", 500m, ["POST /emails"], "7d");
        JsonElement globex = await _proxy.Host.IssueKeyAsync("globex:billing-agent:checkout:run-3", "stripe", 500m, ["POST /v1/payment_intents"], "7d");

        // Three days, both tenants, one denial: enough to cross partitions and pages.
        for (int day = 0; day < 3; day++)
        {
            for (int i = 0; i < 2; i++)
            {
                await ChargeAsync(acmeBilling, "acme:billing-agent:checkout:run-1", 100 + (day * 10) + i);
                await ChargeAsync(globex, "globex:billing-agent:checkout:run-3", 200 + (day * 10) + i);
                await EmailAsync(acmeNotify);
                _proxy.Host.Time.Advance(TimeSpan.FromMinutes(7));
            }

            _proxy.Host.Time.Advance(TimeSpan.FromHours(20));
        }

        using HttpClient denied = Agent(acmeBilling);
        await denied.GetAsync("v1/customers/cus_1");
    }

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    [Fact]
    public async Task Root_SeesEveryTenantNewestFirst_WithEveryAuditField()
    {
        JsonElement page = await GetAsync(_proxy.Host.Client(), $"/v1/audit?since={Since()}&limit=1000");

        List<JsonElement> entries = [.. page.GetProperty("entries").EnumerateArray()];
        Assert.Equal(19, entries.Count);
        Assert.Equal(entries.Select(e => e.GetProperty("ts").GetDateTime()).OrderDescending(), entries.Select(e => e.GetProperty("ts").GetDateTime()));
        JsonElement charge = entries.First(e => e.Str("operation") == "payment_intents.create");
        foreach (string field in new[] { "id", "ts", "tenant", "label", "key_id", "vendor", "method", "path", "operation", "status", "outcome", "reason",
                     "cost_usd", "cost_source", "fee_usd", "currency", "amount_minor", "vendor_object_id", "vendor_request_id", "idempotency_key", "latency_ms", "upstream_ms" })
        {
            Assert.True(charge.TryGetProperty(field, out _), $"missing {field}");
        }

        Assert.Equal(_sent.Sum(s => s.CostMicros) / 1_000_000m, entries.Sum(e => e.GetProperty("cost_usd").GetDecimal()));
        Assert.Equal(JsonValueKind.Null, page.GetProperty("next_cursor").ValueKind);
    }

    [Fact]
    public async Task Filters_ByLabelPrefixVendorOutcomeAndWindow()
    {
        using HttpClient root = _proxy.Host.Client();

        Assert.Equal(13, await CountAsync(root, $"/v1/audit?since={Since()}&label_prefix=acme:"));
        Assert.Equal(6, await CountAsync(root, $"/v1/audit?since={Since()}&label_prefix=acme:notify-agent"));
        Assert.Equal(12, await CountAsync(root, $"/v1/audit?since={Since()}&vendor=stripe&outcome=forwarded"));
        Assert.Equal(1, await CountAsync(root, $"/v1/audit?since={Since()}&outcome=denied"));
        // The default window is the last 24 hours: the last day's six calls and the denial.
        Assert.Equal(7, await CountAsync(root, "/v1/audit"));
    }

    [Fact]
    public async Task Paging_WithCursors_ReturnsEveryRowOnceAcrossDaysAndTenants()
    {
        using HttpClient root = _proxy.Host.Client();
        var seen = new List<string>();
        string? cursor = null;
        int pages = 0;
        do
        {
            JsonElement page = await GetAsync(root, $"/v1/audit?since={Since()}&limit=4" + (cursor is null ? "" : "&cursor=" + cursor));
            seen.AddRange(page.GetProperty("entries").EnumerateArray().Select(e => e.Str("tenant") + "/" + e.Str("id")));
            cursor = page.GetProperty("next_cursor").ValueKind == JsonValueKind.String ? page.Str("next_cursor") : null;
            pages++;
        }
        while (cursor is not null && pages < 20);

        Assert.Equal(19, seen.Count);
        Assert.Equal(19, seen.Distinct().Count());
        Assert.Equal(5, pages);
    }

    [Fact]
    public async Task TenantToken_SeesOnlyItsTenant_AndForgedOrBorrowedCursorsAre400()
    {
        using HttpClient acme = _proxy.Host.Client(await _proxy.Host.IssueTenantTokenAsync("acme"));
        using HttpClient root = _proxy.Host.Client();

        JsonElement page = await GetAsync(acme, $"/v1/audit?since={Since()}&limit=1000");
        Assert.All(page.GetProperty("entries").EnumerateArray(), e => Assert.Equal("acme", e.Str("tenant")));
        Assert.Equal(13, page.GetProperty("entries").GetArrayLength());
        Assert.Equal(HttpStatusCode.Forbidden, (await acme.GetAsync($"/v1/audit?since={Since()}&label_prefix=globex:")).StatusCode);

        string rootCursor = (await GetAsync(root, $"/v1/audit?since={Since()}&limit=2")).Str("next_cursor");
        Assert.Equal(HttpStatusCode.BadRequest, (await acme.GetAsync($"/v1/audit?since={Since()}&limit=2&cursor={rootCursor}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await root.GetAsync($"/v1/audit?since={Since()}&limit=3&cursor={rootCursor}")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await root.GetAsync($"/v1/audit?since={Since()}&vendor=stripe&limit=2&cursor={rootCursor}")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await root.GetAsync($"/v1/audit?since={Since()}&limit=2&cursor={rootCursor[..^2]}xx")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await root.GetAsync("/v1/audit?cursor=not-a-cursor")).StatusCode);
    }

    [Fact]
    public async Task DefaultWindow_CursorStillWorks_AfterTheClockMoves_AndPagesCoverTheFirstPagesWindow()
    {
        using HttpClient root = _proxy.Host.Client();
        int inWindow = (await GetAsync(root, "/v1/audit?limit=1000")).GetProperty("entries").GetArrayLength();
        Assert.True(inWindow >= 3, $"the default window should hold several rows, has {inWindow}");

        JsonElement first = await GetAsync(root, "/v1/audit?limit=1");
        var seen = new List<string> { first.GetProperty("entries")[0].Str("id") };
        string? cursor = first.Str("next_cursor");
        while (cursor is not null)
        {
            // Real time passes between pages; the default "until now" must not move the cursor's window.
            _proxy.Host.Time.Advance(TimeSpan.FromHours(3));
            HttpResponseMessage next = await root.GetAsync("/v1/audit?limit=1&cursor=" + cursor);
            JsonElement page = await Json.ReadAsync(next);
            Assert.True(next.StatusCode == HttpStatusCode.OK, page.ToString());
            seen.AddRange(page.GetProperty("entries").EnumerateArray().Select(e => e.Str("id")));
            cursor = page.GetProperty("next_cursor").ValueKind == JsonValueKind.String ? page.Str("next_cursor") : null;
        }

        Assert.Equal(inWindow, seen.Count);
        Assert.Equal(seen.Count, seen.Distinct().Count());
    }

    [Theory]
    [InlineData("/v1/audit?limit=10001", "limit")]
    [InlineData("/v1/audit?limit=0", "limit")]
    [InlineData("/v1/audit?since=yesterday", "since")]
    [InlineData("/v1/audit?since=2026-11-05T00:00:00Z&until=2026-11-01T00:00:00Z", "since")]
    [InlineData("/v1/audit?outcome=maybe", "outcome")]
    public async Task BadQuery_Is400NamingTheParameter(string url, string field)
    {
        HttpResponseMessage response = await _proxy.Host.Client().GetAsync(url);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(field, (await Json.ReadAsync(response)).GetProperty("error").Str("message"), StringComparison.Ordinal);
    }

    private static string Since() => "2026-11-01T00:00:00Z";

    private async Task ChargeAsync(JsonElement key, string label, int amount)
    {
        using HttpClient agent = Agent(key);
        HttpResponseMessage response = await agent.PostAsync("v1/payment_intents", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["amount"] = amount.ToString(System.Globalization.CultureInfo.InvariantCulture), ["currency"] = "usd", ["confirm"] = "true", ["payment_method"] = "pm_card_visa",
        }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        _sent.Add((label.Split(':')[0], label, amount * 10_000L, _proxy.Host.Time.GetUtcNow()));
    }

    private async Task EmailAsync(JsonElement key)
    {
        using var agent = new HttpClient { BaseAddress = _proxy.ProxyBase("resend") };
        agent.DefaultRequestHeaders.Authorization = new("Bearer", key.Str("key"));
        HttpResponseMessage response = await agent.PostAsync("emails", new StringContent(
            """{"from":"a@example.com","to":"b@example.com","subject":"hi","text":"hello"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        _sent.Add(("acme", "acme:notify-agent:email:run-2", 900, _proxy.Host.Time.GetUtcNow()));
    }

    private HttpClient Agent(JsonElement key)
    {
        var agent = new HttpClient { BaseAddress = _proxy.ProxyBase("stripe") };
        agent.DefaultRequestHeaders.Authorization = new("Bearer", key.Str("key"));
        return agent;
    }

    private static async Task<JsonElement> GetAsync(HttpClient client, string url)
    {
        HttpResponseMessage response = await client.GetAsync(url);
        JsonElement body = await Json.ReadAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.OK, body.ToString());
        return body;
    }

    private static async Task<int> CountAsync(HttpClient client, string url) =>
        (await GetAsync(client, url + (url.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "limit=1000")).GetProperty("entries").GetArrayLength();
}
