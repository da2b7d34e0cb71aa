using System.Net;
using System.Text.Json;
using Keybrake.Sandbox;
using Keybrake.Tests.Support;

namespace Keybrake.Tests.Reports;

/// <summary>GET /v1/spend checked against sums computed independently from the fake vendors' ledgers.</summary>
public sealed class SpendQueryTests : IAsyncLifetime
{
    private const string Window = "since=2026-11-01T00:00:00Z&until=2026-11-10T00:00:00Z";
    private ProxyHost _proxy = null!;

    public async Task InitializeAsync()
    {
        _proxy = await ProxyHost.StartAsync();
        (string Label, string Vendor)[] keys =
        [
            ("acme:billing-agent:checkout:run-1", "stripe"),
            ("acme:billing-agent:refunds:run-2", "stripe"),
            ("acme:notify-agent:email:run-3", "resend"),
            ("globex:billing-agent:checkout:run-4", "stripe"),
            ("globex:onboarding-agent", "stripe"),
        ];
        var issued = new Dictionary<string, JsonElement>();
        foreach ((string label, string vendor) in keys)
        {
            issued[label] = await _proxy.Host.IssueKeyAsync(label, vendor, 500m, vendor == "stripe" ? ["POST /v1/payment_intents", "POST /v1/refunds"] : ["POST /emails", "POST /emails/batch"], "7d");
        }

        for (int day = 0; day < 2; day++)
        {
            string refundOf = await ChargeAsync(issued["acme:billing-agent:checkout:run-1"], 1250 + day);
            await ChargeAsync(issued["globex:billing-agent:checkout:run-4"], 4000 + day);
            await ChargeAsync(issued["globex:onboarding-agent"], 333);
            await RefundAsync(issued["acme:billing-agent:refunds:run-2"], refundOf, 500);
            await SendAsync(issued["acme:notify-agent:email:run-3"], "emails", """{"from":"a@x.io","to":"b@x.io","subject":"s","text":"t"}""");
            await SendAsync(issued["acme:notify-agent:email:run-3"], "emails/batch",
                """[{"from":"a@x.io","to":"b@x.io","subject":"s","text":"t"},{"from":"a@x.io","to":"c@x.io","subject":"s","text":"t"}]""");
            _proxy.Host.Time.Advance(TimeSpan.FromHours(26));
        }

        using HttpClient denied = Agent(issued["acme:billing-agent:checkout:run-1"], "stripe");
        Assert.Equal(HttpStatusCode.Forbidden, (await denied.GetAsync("v1/customers/cus_1")).StatusCode);
    }

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    private FakeStripe Stripe => _proxy.Vendors.Stripe;

    [Fact]
    public async Task ByTenant_NetGrossRefundsAndFees_MatchTheVendorsLedgers()
    {
        Dictionary<string, JsonElement> groups = await GroupsAsync("tenant");

        long acmeCharges = StripeMoved("/v1/payment_intents", "acme");
        long acmeRefunds = StripeMoved("/v1/refunds", "acme");
        long acmeEmails = _proxy.Vendors.Resend.Ledger.Where(e => e.Status == 200).Sum(e => e.EmailCount ?? 0) * 900L;
        Assert.Equal(Usd(acmeCharges + acmeEmails), groups["acme"].GetProperty("gross_usd").GetDecimal());
        Assert.Equal(Usd(acmeRefunds), groups["acme"].GetProperty("refunds_usd").GetDecimal());
        Assert.Equal(Usd(acmeCharges + acmeEmails - acmeRefunds), groups["acme"].GetProperty("cost_usd").GetDecimal());
        Assert.Equal(Usd(StripeMoved("/v1/payment_intents", "globex")), groups["globex"].GetProperty("cost_usd").GetDecimal());
        long fees = Stripe.Ledger.Where(e => e.Path == "/v1/payment_intents" && e.Status == 200 && Tenant(e) == "acme").Sum(e => Stripe.Options.FeeFor(e.AmountMinor!.Value)) * 10_000;
        Assert.Equal(Usd(fees), groups["acme"].GetProperty("fee_usd").GetDecimal());
        Assert.Equal((8, 1), (groups["acme"].GetProperty("calls").GetInt32(), groups["acme"].GetProperty("denied").GetInt32()));
    }

    [Fact]
    public async Task ByAgentTypeAndVendor_TwoLevels_WithUnknownForMissingParts()
    {
        Dictionary<string, JsonElement> byAgent = await GroupsAsync("agent_type,vendor");
        Dictionary<string, JsonElement> byFeature = await GroupsAsync("feature", "&label_prefix=globex:");

        Assert.Equal(Usd(2 * 333 * 10_000L), byAgent["onboarding-agent|stripe"].GetProperty("cost_usd").GetDecimal());
        Assert.Equal(Usd(6 * 900L), byAgent["notify-agent|resend"].GetProperty("cost_usd").GetDecimal());
        Assert.Equal(["checkout", "unknown"], byFeature.Keys.Order());
        Assert.Equal(Usd(2 * 333 * 10_000L), byFeature["unknown"].GetProperty("cost_usd").GetDecimal());
        List<decimal> costs = [.. byAgent.Values.Select(g => g.GetProperty("cost_usd").GetDecimal())];
        Assert.Equal(costs.OrderDescending(), costs);
    }

    [Fact]
    public async Task AsCsv_ForTheShowbackSpreadsheet()
    {
        using HttpClient root = _proxy.Host.Client();
        HttpResponseMessage response = await root.GetAsync($"/v1/spend?{Window}&group_by=run,vendor&format=csv");

        Assert.Equal("text/csv", response.Content.Headers.ContentType!.MediaType);
        string[] lines = (await response.Content.ReadAsStringAsync()).TrimEnd('\n').Split('\n');
        Assert.Equal("run,vendor,cost_usd,gross_usd,refunds_usd,fee_usd,calls,denied", lines[0]);
        Assert.Contains(lines, l => l.StartsWith("run-3,resend,0.005400,0.005400,0.000000,0.000000,4,0", StringComparison.Ordinal));
        Assert.Equal(6, lines.Length);
    }

    [Fact]
    public async Task TenantToken_SeesOnlyItsOwnSpend_AndBadGroupByIs400()
    {
        using HttpClient acme = _proxy.Host.Client(await _proxy.Host.IssueTenantTokenAsync("acme"));
        JsonElement body = await Json.ReadAsync(await acme.GetAsync($"/v1/spend?{Window}&group_by=tenant"));

        Assert.Equal("acme", Assert.Single(body.GetProperty("groups").EnumerateArray()).Str("key"));
        Assert.Equal(HttpStatusCode.Forbidden, (await acme.GetAsync($"/v1/spend?{Window}&label_prefix=globex:")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await acme.GetAsync($"/v1/spend?{Window}&group_by=colour")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await acme.GetAsync($"/v1/spend?{Window}&group_by=tenant,vendor,run")).StatusCode);
    }

    [Fact]
    public async Task DailyRollup_EqualsTheSpendQuery_AtEveryLevel_AndReRunsIdentically()
    {
        using HttpClient root = _proxy.Host.Client();
        HttpResponseMessage rolled = await root.PostAsync("/v1/rollups/2026-11-02", null);
        Assert.True((await Json.ReadAsync(rolled)).GetProperty("rows").GetInt32() > 0);
        string first = await (await root.GetAsync("/v1/rollups?date=2026-11-02")).Content.ReadAsStringAsync();
        await root.PostAsync("/v1/rollups/2026-11-02", null);
        string second = await (await root.GetAsync("/v1/rollups?date=2026-11-02")).Content.ReadAsStringAsync();

        Assert.Equal(first, second);
        List<JsonElement> rollups = [.. JsonDocument.Parse(first).RootElement.GetProperty("rollups").EnumerateArray()];
        JsonElement spend = await Json.ReadAsync(await root.GetAsync("/v1/spend?since=2026-11-02T00:00:00Z&until=2026-11-02T23:59:59Z&group_by=run,vendor"));
        foreach (JsonElement group in spend.GetProperty("groups").EnumerateArray())
        {
            string run = group.GetProperty("keys")[0].GetString()!;
            string vendor = group.GetProperty("keys")[1].GetString()!;
            JsonElement rollup = rollups.Single(r => r.Str("level") == "run" && r.Str("key").EndsWith(":" + run, StringComparison.Ordinal) && r.Str("vendor") == vendor);
            Assert.Equal(group.GetProperty("cost_usd").GetDecimal(), rollup.GetProperty("cost_usd").GetDecimal());
            Assert.Equal(group.GetProperty("calls").GetInt32(), rollup.GetProperty("calls").GetInt32());
        }

        foreach (string level in new[] { "tenant", "agent_type", "feature", "run", "label" })
        {
            Assert.Equal(
                rollups.Where(r => r.Str("level") == "tenant").Sum(r => r.GetProperty("gross_usd").GetDecimal()),
                rollups.Where(r => r.Str("level") == level).Sum(r => r.GetProperty("gross_usd").GetDecimal()));
        }

        Assert.Contains(rollups, r => r.Str("level") == "feature" && r.Str("key") == "globex:onboarding-agent:unknown");
    }

    [Fact]
    public async Task Rollups_AreRootToRun_TenantScopedToRead_AndValidated()
    {
        using HttpClient root = _proxy.Host.Client();
        using HttpClient acme = _proxy.Host.Client(await _proxy.Host.IssueTenantTokenAsync("acme"));
        await root.PostAsync("/v1/rollups/2026-11-02", null);

        Assert.Equal(HttpStatusCode.Forbidden, (await acme.PostAsync("/v1/rollups/2026-11-02", null)).StatusCode);
        JsonElement own = await Json.ReadAsync(await acme.GetAsync("/v1/rollups?date=2026-11-02"));
        Assert.NotEmpty(own.GetProperty("rollups").EnumerateArray());
        Assert.All(own.GetProperty("rollups").EnumerateArray(), r => Assert.Equal("acme", r.Str("tenant")));
        Assert.Equal(HttpStatusCode.BadRequest, (await root.PostAsync("/v1/rollups/yesterday", null)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await root.GetAsync("/v1/rollups")).StatusCode);
    }

    private long StripeMoved(string path, string tenant) =>
        Stripe.Ledger.Where(e => e.Path == path && e.Status == 200 && !e.Replayed && Tenant(e) == tenant).Sum(e => e.AmountMinor!.Value) * 10_000;

    /// <summary>Which tenant a ledger entry was for, from the order ids the test put in metadata.</summary>
    private static string Tenant(LedgerEntry entry) => entry.Form.TryGetValue("metadata[tenant]", out IReadOnlyList<string>? t) ? t[0] : "acme";

    private static decimal Usd(long micros) => micros / 1_000_000m;

    private async Task<Dictionary<string, JsonElement>> GroupsAsync(string groupBy, string extra = "")
    {
        using HttpClient root = _proxy.Host.Client();
        HttpResponseMessage response = await root.GetAsync($"/v1/spend?{Window}&group_by={groupBy}{extra}");
        JsonElement body = await Json.ReadAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.OK, body.ToString());
        return body.GetProperty("groups").EnumerateArray().ToDictionary(g => g.Str("key"));
    }

    private async Task<string> ChargeAsync(JsonElement key, int amount)
    {
        using HttpClient agent = Agent(key, "stripe");
        HttpResponseMessage response = await agent.PostAsync("v1/payment_intents", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["amount"] = amount.ToString(System.Globalization.CultureInfo.InvariantCulture), ["currency"] = "usd", ["confirm"] = "true",
            ["payment_method"] = "pm_card_visa", ["metadata[tenant]"] = key.Str("label").Split(':')[0], ["expand[]"] = "latest_charge.balance_transaction",
        }));
        JsonElement body = await Json.ReadAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.OK, body.ToString());
        return body.Str("id");
    }

    private async Task RefundAsync(JsonElement key, string paymentIntent, int amount)
    {
        using HttpClient agent = Agent(key, "stripe");
        HttpResponseMessage response = await agent.PostAsync("v1/refunds", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["payment_intent"] = paymentIntent, ["amount"] = amount.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private async Task SendAsync(JsonElement key, string path, string json)
    {
        using HttpClient agent = Agent(key, "resend");
        HttpResponseMessage response = await agent.PostAsync(path, new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private HttpClient Agent(JsonElement key, string vendor)
    {
        var agent = new HttpClient { BaseAddress = _proxy.ProxyBase(vendor) };
        agent.DefaultRequestHeaders.Authorization = new("Bearer", key.Str("key"));
        return agent;
    }
}
