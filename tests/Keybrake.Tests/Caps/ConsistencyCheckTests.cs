using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Azure.Data.Tables;
using Keybrake.Domain.Reconciliation;
using Keybrake.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Keybrake.Tests.Caps;

/// <summary>
/// Issue #18's check: GET /v1/consistency recomputes a day's counters from the audit rows that recorded them and checks
/// its rollups; zero drift after charges, replays, a refund, in-doubt calls resolved both ways and a rollup; a counter
/// or rollup moved behind its rows' back is reported; root only.
/// </summary>
public sealed class ConsistencyCheckTests : IAsyncLifetime
{
    private ProxyHost _proxy = null!;

    public async Task InitializeAsync() => _proxy = await ProxyHost.StartAsync(new Dictionary<string, string?>
    {
        ["Vendors:stripe:TimeoutSeconds"] = "1",
        ["Proxy:BudgetCacheMilliseconds"] = "0",
    });

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    [Fact]
    public async Task AfterChargesReplaysRefundsAndResolutions_NothingDrifts_AndATamperedCounterOrRollupIsReported()
    {
        using HttpClient root = _proxy.Host.Client();
        Assert.Equal(HttpStatusCode.OK, (await root.PutAsJsonAsync("/v1/budgets/acme:billing-agent", new { daily_usd = 400, monthly_usd = 900 })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await root.PutAsJsonAsync("/v1/budgets/*", new { daily_usd = 1000 })).StatusCode);
        JsonElement key = await _proxy.Host.IssueKeyAsync("acme:billing-agent:checkout:cc-1", "stripe", cap: 300m, endpoints: ["POST /v1/payment_intents", "POST /v1/refunds"], ttl: "2d");
        HttpResponseMessage charged = await _proxy.StripeChargeAsync(key, 2500);
        using (HttpClient agent = _proxy.StripeAgent(key))
        {
            string intent = (await Json.ReadAsync(charged)).Str("id");
            Assert.Equal(HttpStatusCode.OK, (await agent.PostAsync("v1/refunds", new FormUrlEncodedContent(new Dictionary<string, string> { ["payment_intent"] = intent, ["amount"] = "500" }))).StatusCode);
        }

        string released = await _proxy.TimeOutAStripeChargeAsync(key, 900);
        string settled = await _proxy.TimeOutAStripeChargeAsync(key, 700);
        Assert.Equal(HttpStatusCode.OK, (await root.PostAsJsonAsync($"/v1/audit/acme/{released}/resolve", new { charged = false })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await root.PostAsJsonAsync($"/v1/audit/acme/{settled}/resolve", new { charged = true, cost_usd = 6.5 })).StatusCode);
        _proxy.Host.Time.Advance(TimeSpan.FromDays(1));
        Assert.Equal(HttpStatusCode.OK, (await root.PostAsync("/v1/rollups/2026-11-02", null)).StatusCode);

        JsonElement healthy = await Json.ReadAsync(await root.GetAsync("/v1/consistency?date=2026-11-02"));
        Assert.Equal(0, healthy.GetProperty("drift_count").GetInt32());
        JsonElement keyCounter = healthy.GetProperty("counters").EnumerateArray().Single(c => c.Str("counter") == "~cap|key|" + key.Str("id"));
        Assert.Equal((31.5m, 31.5m), (keyCounter.GetProperty("expected_usd").GetDecimal(), keyCounter.GetProperty("actual_usd").GetDecimal()));
        Assert.Contains(healthy.GetProperty("counters").EnumerateArray(), c => c.Str("partition") == "*|2026-11-02");
        Assert.True(healthy.GetProperty("rollups").EnumerateArray().Single(r => r.Str("tenant") == "acme").GetProperty("complete").GetBoolean());

        TableClient audit = TestStorage.Service().GetTableClient(_proxy.Host.TablePrefix + "audit");
        TableEntity counter = (await audit.GetEntityAsync<TableEntity>("acme|2026-11-02", "~cap|budget|acme:billing-agent|d")).Value;
        counter["UsedMicros"] = counter.GetInt64("UsedMicros")!.Value + 1_000_000;
        await audit.UpdateEntityAsync(counter, counter.ETag, TableUpdateMode.Replace);
        TableClient rollups = TestStorage.Service().GetTableClient(_proxy.Host.TablePrefix + "rollups");
        TableEntity tenantRow = (await rollups.GetEntityAsync<TableEntity>("acme|2026-11-02", "tenant|acme|stripe")).Value;
        tenantRow["Calls"] = tenantRow.GetInt32("Calls")!.Value + 1;
        await rollups.UpdateEntityAsync(tenantRow, tenantRow.ETag, TableUpdateMode.Replace);

        JsonElement drifted = await Json.ReadAsync(await root.GetAsync("/v1/consistency?date=2026-11-02"));
        Assert.Equal(2, drifted.GetProperty("drift_count").GetInt32());
        Assert.Equal(1m, drifted.GetProperty("counters").EnumerateArray().Single(c => c.Str("counter") == "~cap|budget|acme:billing-agent|d").GetProperty("drift_usd").GetDecimal());
        JsonElement rollupDrift = drifted.GetProperty("rollup_drift").EnumerateArray().Single();
        Assert.Equal(("tenant", "acme"), (rollupDrift.Str("level"), rollupDrift.Str("key")));

        // The reconciler runs the same check; its report says the same.
        ConsistencyReport report = await _proxy.Host.Services.GetRequiredService<ConsistencyCheck>().RunAsync(new DateOnly(2026, 11, 2), CancellationToken.None);
        Assert.Equal(2, report.DriftCount);
    }

    [Fact]
    public async Task TenantToken_Is403_InTheOperatorErrorShape()
    {
        using HttpClient acme = _proxy.Host.Client(await _proxy.Host.IssueTenantTokenAsync("acme"));

        HttpResponseMessage response = await acme.GetAsync("/v1/consistency?date=2026-11-02");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        JsonElement error = (await Json.ReadAsync(response)).GetProperty("error");
        Assert.False(string.IsNullOrEmpty(error.Str("code")));
        Assert.False(string.IsNullOrEmpty(error.Str("message")));
    }
}
