using System.Net;
using System.Net.Http.Json;
using Keybrake.Domain.Alerts;
using Keybrake.Domain.Audit;
using Keybrake.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Keybrake.Tests.Alerts;

/// <summary>The budget sweep reads the counters of budgets that can have moved, not of every budget: counted in storage requests.</summary>
public sealed class BudgetSweepTests
{
    [Fact]
    public async Task Sweep_ReadsCountersOfNewlySetBudgets_ThenOnlyOfActiveTenants()
    {
        var counter = new StorageRequestCounter();
        await using KeybrakeHost host = await KeybrakeHost.StartAsync(configureServices: s => s.Replace(ServiceDescriptor.Singleton(counter.Client())));
        using HttpClient root = host.Client();
        for (int t = 0; t < 10; t++)
        {
            HttpResponseMessage put = await root.PutAsJsonAsync($"/v1/budgets/t{t:D2}:", new { daily_usd = 10, alert_thresholds = new[] { 0.5 } });
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        BudgetAlerts sweep = host.Services.GetRequiredService<BudgetAlerts>();
        counter.Reset();
        await sweep.CheckAllAsync(CancellationToken.None);
        Assert.True(counter.To(host.TablePrefix + "audit") == 10, counter.Sent);

        host.Time.Advance(TimeSpan.FromDays(2));
        DateTimeOffset now = host.Time.GetUtcNow();
        await host.Services.GetRequiredService<IReservationLedger>().RecordDenialAsync(new AuditEntry
        {
            Id = AuditEntry.NewId(now), Timestamp = now, Tenant = "t03", Label = "t03:billing-agent:checkout:run", KeyId = "k", Vendor = "stripe",
            Method = "POST", Path = "/v1/payment_intents", Outcome = AuditOutcome.Denied, Reason = "cap_exceeded",
        }, CancellationToken.None);
        counter.Reset();
        await sweep.CheckAllAsync(CancellationToken.None);
        Assert.True(counter.To(host.TablePrefix + "audit") == 1, counter.Sent);
    }
}
