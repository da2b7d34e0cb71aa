using Keybrake.Domain.Audit;
using Keybrake.Domain.Operators;
using Keybrake.Domain.Work;
using Keybrake.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Keybrake.Tests.Reports;

/// <summary>
/// A nightly work item rolls a tenant-day never rolled in three storage requests (its audit rows, its rollup in one
/// transaction, its month copy in one transaction) and marks the item's days rolled in one; a larger day adds only its
/// further rollup transactions; a re-roll claims first (counted, not timed).
/// </summary>
public sealed class NightlyWorkRequestTests : IAsyncLifetime
{
    private readonly StorageRequestCounter _counter = new();
    private KeybrakeHost _host = null!;

    public async Task InitializeAsync() =>
        _host = await KeybrakeHost.StartAsync(configureServices: s => s.Replace(ServiceDescriptor.Singleton(_counter.Client())));

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task RollingNewTenantDays_TakesThreeRequestsEach_PlusOneForTheirRolledMarks()
    {
        DateTimeOffset yesterday = _host.Time.GetUtcNow().AddDays(-1);
        string[] tenants = ["n01", "n02", "n03", "n04"];
        foreach (string tenant in tenants)
        {
            await DenyAsync(tenant, yesterday);
            await DenyAsync(tenant, yesterday.AddMinutes(1));
        }

        FanOutWork work = _host.Services.GetRequiredService<FanOutWork>();
        DateOnly day = DateOnly.FromDateTime(yesterday.UtcDateTime);
        WorkBatch batch = new(WorkKinds.Roll, [.. tenants.Select(t => new WorkTenantDay(t, day))]);

        // The tables exist once the app has used them: not part of a run.
        await work.HandleAsync(new WorkBatch(WorkKinds.Roll, [new WorkTenantDay("n00", day)]), CancellationToken.None);
        _counter.Reset();
        await work.HandleAsync(batch, CancellationToken.None);

        Assert.True((_counter.Count, _counter.Sent.Split("; ").Count(r => r.EndsWith("/$batch", StringComparison.Ordinal))) == (3 * tenants.Length + 1, 2 * tenants.Length + 1), _counter.Sent);
        RollupService rollups = _host.Services.GetRequiredService<RollupService>();
        IReadOnlyList<Rollup> rolled = await rollups.ListAsync(OperatorPrincipal.Root, day, CancellationToken.None);
        Assert.All(tenants, t => Assert.Equal(2, rolled.Single(r => r.Tenant == t && r.Level == "tenant").Denied));
        Assert.Empty((await rollups.NightlyDueAsync(day.AddDays(1), CancellationToken.None)).Unrolled);

        // Rolled again (a late change): claimed first, the version and the marker read in one request.
        _counter.Reset();
        await rollups.RunAsync("n01", day, CancellationToken.None);
        // The claim's read and write, the audit rows, the rollup with its marker, the month copy's read and write.
        Assert.True(_counter.Count == 6, _counter.Sent);
    }

    [Fact]
    public async Task RollingANewTenantDayOfManyRuns_ReadsItsAuditRowsOnce_AndWritesItsRollupInFencedChunks()
    {
        DateTimeOffset yesterday = _host.Time.GetUtcNow().AddDays(-1);
        DateOnly day = DateOnly.FromDateTime(yesterday.UtcDateTime);
        FanOutWork work = _host.Services.GetRequiredService<FanOutWork>();
        await work.HandleAsync(new WorkBatch(WorkKinds.Roll, [new WorkTenantDay("b00", day)]), CancellationToken.None);

        // 60 runs: a run and a label row each, plus tenant, agent type and feature: 123 rows, two transactions' worth.
        for (int run = 0; run < 60; run++)
        {
            await DenyAsync("b01", yesterday.AddSeconds(run), $"run-{run:D2}");
        }

        _counter.Reset();
        await work.HandleAsync(new WorkBatch(WorkKinds.Roll, [new WorkTenantDay("b01", day)]), CancellationToken.None);

        // The audit rows once, the rollup in two transactions (the first adds the version), the month copy, the rolled mark.
        Assert.True(_counter.Count == 5, _counter.Sent);
        IReadOnlyList<Rollup> rolled = await _host.Services.GetRequiredService<RollupService>().ListAsync(OperatorPrincipal.Root, day, CancellationToken.None);
        Assert.Equal(123, rolled.Count);
        Assert.Equal(60, rolled.Single(r => r.Level == "tenant").Denied);
        RollupDay? labels = await _host.Services.GetRequiredService<IRollupStore>().ReadLevelAsync("b01", day, "label", "b01:", null, CancellationToken.None);
        Assert.Equal(60, labels?.Rows.Count);
    }

    private async Task DenyAsync(string tenant, DateTimeOffset at, string run = "run") =>
        await _host.Services.GetRequiredService<IReservationLedger>().RecordDenialAsync(new AuditEntry
        {
            Id = AuditEntry.NewId(at), Timestamp = at, Tenant = tenant, Label = tenant + ":billing-agent:checkout:" + run, KeyId = "k", Vendor = "stripe",
            Method = "POST", Path = "/v1/payment_intents", Outcome = AuditOutcome.Denied, Reason = "cap_exceeded",
        }, CancellationToken.None);
}
