using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Azure.Data.Tables;
using Keybrake.Tests.Support;

namespace Keybrake.Tests.Caps;

/// <summary>
/// Issue #18 item 3: a row records the counters it reserved; settlement and release move exactly those, whatever
/// budgets exist when it is resolved (a budget created since is untouched, one removed since is released).
/// </summary>
public sealed class RecordedCountersTests : IAsyncLifetime
{
    private const string Budget = "acme:billing-agent";
    private ProxyHost _proxy = null!;

    public async Task InitializeAsync() => _proxy = await ProxyHost.StartAsync(new Dictionary<string, string?>
    {
        ["Vendors:stripe:TimeoutSeconds"] = "1",
        ["Proxy:BudgetCacheMilliseconds"] = "0",
    });

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    [Fact]
    public async Task BudgetCreatedAfterTheReservation_IsNotMovedByItsRelease()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:rec-1", "stripe", "POST /v1/payment_intents");
        string auditId = await _proxy.TimeOutAStripeChargeAsync(key, 900);
        using HttpClient root = _proxy.Host.Client();
        Assert.Equal(HttpStatusCode.OK, (await root.PutAsJsonAsync($"/v1/budgets/{Budget}", new { daily_usd = 100 })).StatusCode);

        HttpResponseMessage resolved = await root.PostAsJsonAsync($"/v1/audit/acme/{auditId}/resolve", new { charged = false });

        Assert.Equal(HttpStatusCode.OK, resolved.StatusCode);
        Assert.Equal(0L, await CounterAsync("~cap|key|" + key.Str("id")));
        Assert.Equal(0L, await CounterAsync("~cap|budget|" + Budget + "|d"));
    }

    [Fact]
    public async Task BudgetRemovedAfterTheReservation_HasWhatItHeldReleased()
    {
        using HttpClient root = _proxy.Host.Client();
        Assert.Equal(HttpStatusCode.OK, (await root.PutAsJsonAsync($"/v1/budgets/{Budget}", new { daily_usd = 100 })).StatusCode);
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:rec-2", "stripe", "POST /v1/payment_intents");
        string auditId = await _proxy.TimeOutAStripeChargeAsync(key, 900);
        Assert.Equal(9_000_000L, await CounterAsync("~cap|budget|" + Budget + "|d"));
        Assert.True((await root.DeleteAsync($"/v1/budgets/{Budget}")).IsSuccessStatusCode);

        HttpResponseMessage resolved = await root.PostAsJsonAsync($"/v1/audit/acme/{auditId}/resolve", new { charged = true, cost_usd = 4 });

        Assert.Equal(HttpStatusCode.OK, resolved.StatusCode);
        Assert.Equal(4_000_000L, await CounterAsync("~cap|key|" + key.Str("id")));
        Assert.Equal(4_000_000L, await CounterAsync("~cap|budget|" + Budget + "|d"));
    }

    /// <summary>A counter of the test day as Azurite holds it (0 when it was never written).</summary>
    private async Task<long> CounterAsync(string row)
    {
        TableClient table = TestStorage.Service().GetTableClient(_proxy.Host.TablePrefix + "audit");
        Azure.NullableResponse<TableEntity> counter = await table.GetEntityIfExistsAsync<TableEntity>("acme|2026-11-02", row);
        return counter.HasValue ? counter.Value!.GetInt64("UsedMicros")!.Value : 0;
    }
}
