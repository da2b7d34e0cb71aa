namespace Keybrake.Domain.Activity;

/// <summary>A tenant-day whose rollup must be (re)computed: it had calls, or a late change touched it after it closed.</summary>
public sealed record TenantDay(string Tenant, DateOnly Day);

/// <summary>A dirty mark as read: <paramref name="Version"/> lets clearing it fail when it was marked again since.</summary>
public sealed record DirtyMark(TenantDay TenantDay, string Version);

/// <summary>
/// Which tenants had activity on which UTC days, and which closed days changed late. Root reports and timers read
/// this instead of enumerating every tenant ever registered, so their cost follows the traffic, not the tenant count.
/// An entry may exist for a day that turned out to have no audit row (the write goes first); a tenant-day with an
/// audit row or an alert always has one.
/// </summary>
public interface IActivityIndex
{
    /// <summary>Notes that <paramref name="tenant"/> was active on <paramref name="day"/>; cheap to repeat (cached per instance).</summary>
    Task RecordAsync(string tenant, DateOnly day, CancellationToken cancellationToken);

    /// <summary>
    /// Notes an active tenant-day the backfill found in data older than the index: inserted not rolled up (the nightly run
    /// rolls it if it is in its catch-up window); an entry already there is left as it is, so a rolled day stays rolled.
    /// </summary>
    Task BackfillAsync(string tenant, DateOnly day, CancellationToken cancellationToken);

    /// <summary>Every (tenant, day) with activity from <paramref name="from"/> to <paramref name="to"/>, both included.</summary>
    Task<IReadOnlyList<TenantDay>> ActiveAsync(DateOnly from, DateOnly to, CancellationToken cancellationToken);

    /// <summary>The active tenant-days from <paramref name="from"/> to <paramref name="to"/> not yet marked rolled up.</summary>
    Task<IReadOnlyList<TenantDay>> UnrolledAsync(DateOnly from, DateOnly to, CancellationToken cancellationToken);

    /// <summary>Notes that the nightly run has rolled these tenant-days up, so later runs skip them (late changes come as dirty marks).</summary>
    Task MarkRolledAsync(IReadOnlyList<TenantDay> tenantDays, CancellationToken cancellationToken);

    /// <summary>The days in <paramref name="from"/>..<paramref name="to"/> on which <paramref name="tenant"/> was active.</summary>
    Task<IReadOnlyList<DateOnly>> ActiveDaysAsync(string tenant, DateOnly from, DateOnly to, CancellationToken cancellationToken);

    /// <summary>Marks a closed tenant-day as changed after it closed (a late settlement or resolution).</summary>
    Task MarkDirtyAsync(string tenant, DateOnly day, CancellationToken cancellationToken);

    /// <summary>Every tenant-day marked dirty and not cleared since.</summary>
    Task<IReadOnlyList<DirtyMark>> DirtyAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Clears a dirty mark once its day has been re-rolled; keeps it (returns false) when it was marked again after
    /// <paramref name="mark"/> was read, so a change that raced the re-roll is rolled next time.
    /// </summary>
    Task<bool> ClearDirtyAsync(DirtyMark mark, CancellationToken cancellationToken);
}
