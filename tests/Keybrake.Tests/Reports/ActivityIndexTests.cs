using Keybrake.Domain.Activity;
using Keybrake.Infrastructure.Storage;
using Keybrake.Tests.Support;

namespace Keybrake.Tests.Reports;

/// <summary>The activity index on Azurite: what root reports and timers read instead of every tenant ever registered.</summary>
public sealed class ActivityIndexTests
{
    private readonly StorageRequestCounter _requests = new();
    private readonly TableActivityIndex _index;

    public ActivityIndexTests() =>
        _index = new TableActivityIndex(new KeybrakeTables(_requests.Client(), new TableOptions { Prefix = TestStorage.NewPrefix() }));

    [Fact]
    public async Task Record_WritesOncePerTenantDayPerInstance()
    {
        var day = new DateOnly(2026, 11, 2);
        await _index.RecordAsync("acme", day, CancellationToken.None);
        _requests.Reset();
        await _index.RecordAsync("acme", day, CancellationToken.None);
        await _index.RecordAsync("acme", day, CancellationToken.None);
        Assert.Equal(0, _requests.Count);

        await _index.RecordAsync("globex", day, CancellationToken.None);
        await _index.RecordAsync("acme", day.AddDays(1), CancellationToken.None);
        Assert.Equal(2, _requests.Count);
    }

    [Fact]
    public async Task Active_ReadsTheWindowAcrossMonths_OneRangeReadPerMonth()
    {
        foreach ((string tenant, DateOnly day) in new[]
                 {
                     ("acme", new DateOnly(2026, 10, 30)), ("globex", new DateOnly(2026, 10, 31)), ("acme", new DateOnly(2026, 11, 1)),
                     ("initech", new DateOnly(2026, 11, 2)), ("acme", new DateOnly(2026, 11, 3)), ("globex", new DateOnly(2026, 10, 29)),
                 })
        {
            await _index.RecordAsync(tenant, day, CancellationToken.None);
        }

        _requests.Reset();
        IReadOnlyList<TenantDay> active = await _index.ActiveAsync(new DateOnly(2026, 10, 30), new DateOnly(2026, 11, 2), CancellationToken.None);
        Assert.Equal(2, _requests.Count);
        Assert.Equal(
            ["2026-10-30 acme", "2026-10-31 globex", "2026-11-01 acme", "2026-11-02 initech"],
            active.Select(a => $"{a.Day:yyyy-MM-dd} {a.Tenant}").Order());

        IReadOnlyList<DateOnly> acme = await _index.ActiveDaysAsync("acme", new DateOnly(2026, 10, 1), new DateOnly(2026, 11, 30), CancellationToken.None);
        Assert.Equal([new DateOnly(2026, 10, 30), new DateOnly(2026, 11, 1), new DateOnly(2026, 11, 3)], acme.Order());
    }

    [Fact]
    public async Task DirtyMark_ClearedOnlyWhenNotMarkedAgainSinceItWasRead()
    {
        await _index.MarkDirtyAsync("acme", new DateOnly(2026, 11, 1), CancellationToken.None);
        await _index.MarkDirtyAsync("globex", new DateOnly(2026, 10, 20), CancellationToken.None);
        IReadOnlyList<DirtyMark> marks = await _index.DirtyAsync(CancellationToken.None);
        Assert.Equal(["acme 2026-11-01", "globex 2026-10-20"], marks.Select(m => $"{m.TenantDay.Tenant} {m.TenantDay.Day:yyyy-MM-dd}").Order());

        DirtyMark acme = marks.Single(m => m.TenantDay.Tenant == "acme");
        await _index.MarkDirtyAsync("acme", new DateOnly(2026, 11, 1), CancellationToken.None);
        Assert.False(await _index.ClearDirtyAsync(acme, CancellationToken.None));
        Assert.True(await _index.ClearDirtyAsync(marks.Single(m => m.TenantDay.Tenant == "globex"), CancellationToken.None));

        DirtyMark again = Assert.Single(await _index.DirtyAsync(CancellationToken.None));
        Assert.True(await _index.ClearDirtyAsync(again, CancellationToken.None));
        Assert.Empty(await _index.DirtyAsync(CancellationToken.None));
    }
}
