using Keybrake.DevHost;
using Keybrake.Domain.Activity;
using Keybrake.Domain.Audit;
using Keybrake.Functions.Timers;
using Keybrake.Tests.Support;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Keybrake.Tests.Reports;

/// <summary>The nightly rollup reads the activity index and dirty marks, never the tenant list: counted in storage requests.</summary>
public sealed class NightlyRollupTests
{
    [Fact]
    public async Task DailyRollup_RollsActiveUnrolledAndDirtyTenantDaysOnly_AndASecondRunRollsNothing()
    {
        var counter = new StorageRequestCounter();
        await using KeybrakeHost host = await KeybrakeHost.StartAsync(configureServices: s => s.Replace(ServiceDescriptor.Singleton(counter.Client())));
        for (int t = 0; t < 20; t++)
        {
            await host.IssueKeyAsync($"t{t:D2}:billing-agent:checkout:run", ttl: "30d");
        }

        DateTimeOffset now = host.Time.GetUtcNow();
        await DenyAsync(host, "t01", now);
        await DenyAsync(host, "t02", now);
        await DenyAsync(host, "t03", now.AddDays(-10));
        await host.Services.GetRequiredService<IActivityIndex>().MarkDirtyAsync("t04", DateOnly.FromDateTime(now.AddDays(-20).UtcDateTime), CancellationToken.None);
        host.Time.Advance(TimeSpan.FromDays(1));
        var rollup = ActivatorUtilities.CreateInstance<RollupFunction>(host.Services);
        var queues = host.Services.GetRequiredService<QueuePoller>();

        // The timer reads the index only (the unrolled days, the dirty marks, the days past the export's retention) and enqueues.
        counter.Reset();
        await rollup.RunAsync(new TimerInfo(), CancellationToken.None);
        Assert.True((counter.To(host.TablePrefix + "activity"), counter.Count) == (5, 5), counter.Sent);
        Assert.Contains("4 tenant-days to roll up, 0 to export, 0 to purge, enqueued in 1 work items", host.Logs.All, StringComparison.Ordinal);

        // The queue function rolls each: one audit read per tenant-day, whatever the number of tenants.
        counter.Reset();
        Assert.Equal(1, await queues.DrainAsync(CancellationToken.None));
        Assert.True((counter.To(host.TablePrefix + "audit"), counter.To(host.TablePrefix + "tenants"), counter.To(host.TablePrefix + "keys")) == (4, 0, 0), counter.Sent);
        IRollupStore store = host.Services.GetRequiredService<IRollupStore>();
        Assert.Equal(1, (await store.ListAsync("t03", DateOnly.FromDateTime(now.AddDays(-10).UtcDateTime), CancellationToken.None)).Single(r => r.Level == "tenant").Denied);
        Assert.Empty(await host.Services.GetRequiredService<IActivityIndex>().DirtyAsync(CancellationToken.None));

        counter.Reset();
        await rollup.RunAsync(new TimerInfo(), CancellationToken.None);
        Assert.Equal(0, await queues.DrainAsync(CancellationToken.None));
        Assert.True(counter.To(host.TablePrefix + "audit") == 0, counter.Sent);
    }

    private static async Task DenyAsync(KeybrakeHost host, string tenant, DateTimeOffset at) =>
        await host.Services.GetRequiredService<IReservationLedger>().RecordDenialAsync(new AuditEntry
        {
            Id = AuditEntry.NewId(at), Timestamp = at, Tenant = tenant, Label = tenant + ":billing-agent:checkout:run", KeyId = "k", Vendor = "stripe",
            Method = "POST", Path = "/v1/payment_intents", Outcome = AuditOutcome.Denied, Reason = "cap_exceeded",
        }, CancellationToken.None);
}
