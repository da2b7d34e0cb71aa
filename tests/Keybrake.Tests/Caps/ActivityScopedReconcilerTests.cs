using System.Net;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Reconciliation;
using Keybrake.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Keybrake.Tests.Caps;

/// <summary>
/// The reconciler, the consistency check and the root export listing read the tenant-days in the activity index, never
/// the tenant list: with 30 tenants registered and 2 active, storage requests follow the 2 (counted, not timed).
/// </summary>
public sealed class ActivityScopedReconcilerTests : IAsyncLifetime
{
    private readonly StorageRequestCounter _counter = new();
    private KeybrakeHost _host = null!;

    public async Task InitializeAsync()
    {
        _host = await KeybrakeHost.StartAsync(configureServices: s => s.Replace(ServiceDescriptor.Singleton(_counter.Client())));
        for (int t = 0; t < 30; t++)
        {
            await _host.IssueKeyAsync($"t{t:D2}:billing-agent:checkout:run", ttl: "30d");
        }
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private string Table(string name) => _host.TablePrefix + name;

    [Fact]
    public async Task Reconciler_ReadsOneRequestPerActiveTenantDay_AndNothingOfIdleTenants()
    {
        DateTimeOffset now = _host.Time.GetUtcNow();
        await DenyAsync("t01", now);
        await DenyAsync("t02", now.AddDays(-1));
        await DenyAsync("t03", now.AddDays(-2)); // outside the two-day look-back
        var reconciler = _host.Services.GetRequiredService<Reconciler>();

        _counter.Reset();
        ReconcileReport report = await reconciler.RunAsync(CancellationToken.None);

        Assert.Equal(new ReconcileReport(0, 0, 0, 0), report);

        // Per active tenant-day in the window: one range read of its unsettled index and journal entries; one activity
        // index read for the window.
        Assert.True((_counter.To(Table("audit")), _counter.To(Table("activity")), _counter.To(Table("keys"))) == (2, 1, 0), _counter.Sent);
        Assert.Equal(3, _counter.Count);
    }

    [Fact]
    public async Task ConsistencyCheck_ReadsOnlyTheDaysActiveTenants()
    {
        DateTimeOffset now = _host.Time.GetUtcNow();
        await DenyAsync("t05", now);
        await DenyAsync("t06", now);
        var check = _host.Services.GetRequiredService<ConsistencyCheck>();

        _counter.Reset();
        ConsistencyReport report = await check.RunAsync(DateOnly.FromDateTime(now.UtcDateTime), CancellationToken.None);

        Assert.Equal(0, report.DriftCount);
        Assert.Equal(["t05", "t06"], report.Rollups.Select(r => r.Tenant));

        // Each active tenant's rows with its counters (one read), the cross-tenant counter partition, one index read; the
        // day is open, so no rollup is asked for.
        Assert.True((_counter.To(Table("audit")), _counter.To(Table("activity")), _counter.To(Table("keys")), _counter.Count) == (3, 1, 0, 4), _counter.Sent);
    }

    [Fact]
    public async Task RootExportListing_ReadsOnlyTheDaysActiveTenants()
    {
        DateTimeOffset now = _host.Time.GetUtcNow();
        await DenyAsync("t07", now.AddDays(-1));
        using HttpClient root = _host.Client();

        _counter.Reset();
        HttpResponseMessage response = await root.GetAsync($"/v1/exports?date={now.AddDays(-1):yyyy-MM-dd}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True((_counter.To(Table("exports")), _counter.To(Table("activity")), _counter.To(Table("keys"))) == (1, 1, 0), _counter.Sent);
    }

    private async Task DenyAsync(string tenant, DateTimeOffset at) =>
        await _host.Services.GetRequiredService<IReservationLedger>().RecordDenialAsync(new AuditEntry
        {
            Id = AuditEntry.NewId(at), Timestamp = at, Tenant = tenant, Label = tenant + ":billing-agent:checkout:run", KeyId = "k", Vendor = "stripe",
            Method = "POST", Path = "/v1/payment_intents", Outcome = AuditOutcome.Denied, Reason = "cap_exceeded",
        }, CancellationToken.None);
}
