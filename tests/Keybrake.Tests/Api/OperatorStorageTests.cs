using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Keybrake.Tests.Support;

namespace Keybrake.Tests.Api;

/// <summary>
/// Issue #20 §2: the operator API answers a storage outage with 503 and the API's error body (through the
/// classification the proxy uses), quickly; and tables that vanish under a running app (Azurite restarted
/// empty) are re-created by the request that finds them missing, not only after a restart.
/// </summary>
public sealed class OperatorStorageTests
{
    [Fact]
    public async Task StorageDown_OperatorReadsAndWrites_Are503WithTheErrorBody_WithinTheStorageTimeout()
    {
        (TcpRelay relay, string storage) = TcpRelay.ForTestStorage();
        await using (relay)
        {
            await using KeybrakeHost host = await KeybrakeHost.StartAsync(new Dictionary<string, string?> { ["Tables:ConnectionString"] = storage });
            await host.IssueKeyAsync("acme:billing-agent:outage:run-1");
            using HttpClient root = host.Client();

            relay.Cut();
            var clock = Stopwatch.StartNew();
            HttpResponseMessage list = await root.GetAsync("/v1/keys");
            HttpResponseMessage issue = await root.PostAsync("/v1/keys", Json.Content(new
            {
                label = "acme:billing-agent:outage:run-2", vendor = "stripe", daily_usd_cap = 5, allowed_endpoints = new[] { "POST /v1/refunds" }, expires_in = "1h",
            }));
            HttpResponseMessage budget = await root.PutAsync("/v1/budgets/acme:", Json.Content(new { daily_usd = 5 }));
            clock.Stop();

            foreach (HttpResponseMessage response in new[] { list, issue, budget })
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
                JsonElement error = (await Json.ReadAsync(response)).GetProperty("error");
                Assert.Equal("storage_unavailable", error.Str("code"));
                Assert.False(string.IsNullOrEmpty(error.Str("message")));
            }

            // Three calls, each bounded by the table client's retries (2 × ≤1 s backoff) — far from the 30 s it took before.
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");

            relay.Restore();
            Assert.Equal(HttpStatusCode.OK, (await root.GetAsync("/v1/keys")).StatusCode);
        }
    }

    [Fact]
    public async Task StorageHanging_OperatorRead_Is503WithTheErrorBody_NotA500()
    {
        (TcpRelay relay, string storage) = TcpRelay.ForTestStorage();
        await using (relay)
        {
            // A 1 s network timeout instead of the default 10 s: the same give-up path, in 3 s rather than 30 s.
            await using KeybrakeHost host = await KeybrakeHost.StartAsync(new Dictionary<string, string?>
            {
                ["Tables:ConnectionString"] = storage, ["Tables:NetworkTimeoutSeconds"] = "1",
            });
            await host.IssueKeyAsync("acme:billing-agent:outage:run-3");
            using HttpClient root = host.Client();
            root.Timeout = TimeSpan.FromSeconds(90);

            // The SDK gives up after its network timeout and retries (3 × 1 s): the answer must still be the API's 503.
            relay.Stall();
            HttpResponseMessage list = await root.GetAsync("/v1/keys");

            Assert.Equal(HttpStatusCode.ServiceUnavailable, list.StatusCode);
            Assert.Equal("storage_unavailable", (await Json.ReadAsync(list)).GetProperty("error").Str("code"));
            relay.Restore();
            Assert.Equal(HttpStatusCode.OK, (await root.GetAsync("/v1/keys")).StatusCode);
        }
    }

    [Fact]
    public async Task TablesDeletedUnderARunningApp_AreRecreatedByTheNextCall()
    {
        await using KeybrakeHost host = await KeybrakeHost.StartAsync();
        string tenantToken = await host.IssueTenantTokenAsync("acme");
        await host.IssueKeyAsync("acme:billing-agent:wipe:run-1");
        using HttpClient root = host.Client();
        Assert.Equal(HttpStatusCode.OK, (await root.PutAsync("/v1/budgets/acme:", Json.Content(new { daily_usd = 5 }))).StatusCode);

        // Azurite restarted empty: every table of this app is gone, the process still thinks they exist.
        foreach (string table in await TestStorage.TablesAsync(host.TablePrefix))
        {
            await TestStorage.Service().DeleteTableAsync(table);
        }

        HttpResponseMessage list = await root.GetAsync("/v1/keys");
        Assert.True(list.StatusCode == HttpStatusCode.OK, await list.Content.ReadAsStringAsync());
        Assert.Empty((await Json.ReadAsync(list)).GetProperty("keys").EnumerateArray());
        HttpResponseMessage budget = await root.PutAsync("/v1/budgets/acme:", Json.Content(new { daily_usd = 7 }));
        Assert.True(budget.StatusCode == HttpStatusCode.OK, await budget.Content.ReadAsStringAsync());
        JsonElement key = await host.IssueKeyAsync("acme:billing-agent:wipe:run-2");
        Assert.StartsWith("vk_", key.Str("id"), StringComparison.Ordinal);

        // The wiped token is gone with its table: refused, not a 500.
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Client(tenantToken).GetAsync("/v1/keys")).StatusCode);
    }
}
