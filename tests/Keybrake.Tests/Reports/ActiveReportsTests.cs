using System.Net;
using System.Text.Json;
using Keybrake.Domain.Audit;
using Keybrake.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Keybrake.Tests.Reports;

/// <summary>
/// Root reports read the tenant-days the activity index names, not every registered tenant; a tenant's month is one
/// month-rollup read plus today's audit rows. Counted in storage requests per table.
/// </summary>
public sealed class ActiveReportsTests
{
    private static readonly DateTimeOffset Today = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task RootSpend_ReadsOnlyActiveTenantDays_AndATenantsMonthIsOneRollupReadPlusToday()
    {
        var counter = new StorageRequestCounter();
        await using KeybrakeHost host = await KeybrakeHost.StartAsync(configureServices: s => s.Replace(ServiceDescriptor.Singleton(counter.Client())));
        for (int t = 0; t < 30; t++)
        {
            await host.IssueKeyAsync($"t{t:D2}:billing-agent:checkout:run", ttl: "2d");
        }

        await DenyAsync(host, "t03", Today.AddDays(-1), Today);
        await DenyAsync(host, "t07", Today);
        await DenyAsync(host, "t11", Today.AddDays(-13));
        RollupService rollups = host.Services.GetRequiredService<RollupService>();
        await rollups.RunAsync("t03", new DateOnly(2026, 11, 1), CancellationToken.None);
        await rollups.RunAsync("t11", new DateOnly(2026, 10, 20), CancellationToken.None);
        using HttpClient root = host.Client();

        counter.Reset();
        JsonElement all = await GetAsync(root, "/v1/spend?since=2026-10-15T00:00:00Z&group_by=tenant");
        Assert.Equal("t03:2 t07:1 t11:1", Denied(all));
        Assert.Equal((2, 2, 2), Read(all));
        Assert.True(
            (counter.To(host.TablePrefix + "audit"), counter.To(host.TablePrefix + "rollupmonths"), counter.To(host.TablePrefix + "activity"), counter.To(host.TablePrefix + "tenants")) == (2, 2, 2, 0),
            counter.Sent);

        counter.Reset();
        JsonElement month = await GetAsync(root, "/v1/spend?since=2026-11-01T00:00:00Z&group_by=feature&label_prefix=t03");
        Assert.Equal((1, 1, 1), Read(month));
        Assert.Equal(2, month.GetProperty("groups")[0].GetProperty("denied").GetInt32());
        Assert.True(
            (counter.To(host.TablePrefix + "audit"), counter.To(host.TablePrefix + "rollupmonths"), counter.To(host.TablePrefix + "activity")) == (1, 1, 1),
            counter.Sent);

        // A prefix inside the tenant ranges over label keys: those are in the day's partition, not the month's.
        counter.Reset();
        JsonElement agent = await GetAsync(root, "/v1/spend?since=2026-11-01T00:00:00Z&group_by=feature&label_prefix=t03:billing-agent:");
        Assert.Equal((1, 1, 1), Read(agent));
        Assert.Equal(2, agent.GetProperty("groups")[0].GetProperty("denied").GetInt32());
        Assert.True(
            (counter.To(host.TablePrefix + "audit"), counter.To(host.TablePrefix + "rollups"), counter.To(host.TablePrefix + "rollupmonths")) == (1, 1, 0),
            counter.Sent);
    }

    [Fact]
    public async Task RootSpendAuditAndAlerts_KeepAtMostTheConfiguredRequestsInFlight()
    {
        var counter = new StorageRequestCounter();
        await using KeybrakeHost host = await KeybrakeHost.StartAsync(
            new Dictionary<string, string?> { ["Reports:MaxStorageRequestsInFlight"] = "2" },
            configureServices: s => s.Replace(ServiceDescriptor.Singleton(counter.Client())));
        for (int t = 0; t < 12; t++)
        {
            await host.IssueKeyAsync($"t{t:D2}:billing-agent:checkout:run", ttl: "2d");
            if (t % 3 != 0)
            {
                await DenyAsync(host, $"t{t:D2}", Today);
            }
        }

        using HttpClient root = host.Client();
        foreach ((string path, string table, int reads) in new[] { ("/v1/spend?group_by=tenant", "audit", 8), ("/v1/audit?limit=100", "audit", 8), ("/v1/alerts", "alerts", 8 + 1) })
        {
            counter.Reset();
            await GetAsync(root, path);
            Assert.True(counter.To(host.TablePrefix + table) == reads, $"{path}: {counter.Sent}");
            Assert.True(counter.MaxInFlight <= 2, $"{path}: {counter.MaxInFlight} in flight");
        }
    }

    private static async Task DenyAsync(KeybrakeHost host, string tenant, params DateTimeOffset[] days)
    {
        IReservationLedger audit = host.Services.GetRequiredService<IReservationLedger>();
        foreach (DateTimeOffset at in days)
        {
            await audit.RecordDenialAsync(new AuditEntry
            {
                Id = AuditEntry.NewId(at), Timestamp = at, Tenant = tenant, Label = tenant + ":billing-agent:checkout:run", KeyId = "k", Vendor = "stripe",
                Method = "POST", Path = "/v1/payment_intents", Outcome = AuditOutcome.Denied, Reason = "cap_exceeded",
            }, CancellationToken.None);
        }
    }

    private static async Task<JsonElement> GetAsync(HttpClient root, string path)
    {
        HttpResponseMessage response = await root.GetAsync(path);
        JsonElement body = await Json.ReadAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.OK, body.ToString());
        return body;
    }

    private static string Denied(JsonElement body) =>
        string.Join(' ', body.GetProperty("groups").EnumerateArray().Select(g => g.Str("key") + ":" + g.GetProperty("denied").GetInt32()).Order(StringComparer.Ordinal));

    /// <summary>Rollup partitions read, closed tenant-days they answered, tenant-days read from audit rows.</summary>
    private static (int RollupPartitions, int RolledDays, int Audit) Read(JsonElement body) =>
        (body.GetProperty("read").GetProperty("rollup_partitions").GetInt32(), body.GetProperty("read").GetProperty("rolled_days").GetInt32(),
            body.GetProperty("read").GetProperty("audit_partitions").GetInt32());
}
