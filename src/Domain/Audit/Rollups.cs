using System.Globalization;
using Keybrake.Domain.Activity;
using Keybrake.Domain.Common;
using Keybrake.Domain.Labels;
using Keybrake.Domain.Operators;

namespace Keybrake.Domain.Audit;

/// <summary>One rollup row: a tenant-day's spend at one level of the label hierarchy, per vendor.</summary>
public sealed record Rollup(string Tenant, DateOnly Date, string Level, string Key, string Vendor, long GrossMicros, long RefundsMicros, long FeeMicros, int Calls, int Denied);

/// <summary>
/// A closed day's rollups at one level, as the spend query reads them;
/// <see cref="EntitiesRead"/> counts what storage returned (rows plus the completion marker).
/// </summary>
public sealed record RollupDay(IReadOnlyList<Rollup> Rows, int EntitiesRead);

/// <summary>A run's claim on rewriting one tenant-day's rollups: its version, and the store's fence on it.</summary>
public sealed record RollupWrite(string Tenant, DateOnly Date, long Version, string Fence);

public interface IRollupStore
{
    /// <summary>
    /// Claims the next version of a tenant-day's rollups, before its audit rows are read: the day is incomplete from
    /// now until the newest claim's snapshot is written whole.
    /// </summary>
    Task<RollupWrite> ClaimAsync(string tenant, DateOnly date, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the tenant-day's rollups with these (re-runs give the same rows) and marks the day complete last, so a
    /// reader never takes a half-written day for a whole one. Every write is conditional on <paramref name="claim"/>
    /// still being the newest: false (and nothing more written) once a newer run claimed the day.
    /// </summary>
    Task<bool> ReplaceAsync(RollupWrite claim, IReadOnlyList<Rollup> rollups, CancellationToken cancellationToken);

    /// <summary>
    /// Writes the first rollup of a tenant-day never claimed, without a claim: its first version with the first rows (and
    /// the completion marker, when they all fit) in one transaction, which fails when anyone claimed the day since (or
    /// before); a larger day goes on in transactions fenced on that version, the marker last. Returns the write, or null
    /// when the day was claimed before or during the write (the caller claims and reads again).
    /// </summary>
    Task<RollupWrite?> TryWriteFirstAsync(string tenant, DateOnly date, IReadOnlyList<Rollup> rollups, CancellationToken cancellationToken);

    Task<IReadOnlyList<Rollup>> ListAsync(string tenant, DateOnly date, CancellationToken cancellationToken);

    Task<bool> IsCompleteAsync(string tenant, DateOnly date, CancellationToken cancellationToken);

    /// <summary>The day's rows at <paramref name="level"/> whose key starts with <paramref name="keyPrefix"/>, or null when the day has no complete rollup.</summary>
    Task<RollupDay?> ReadLevelAsync(string tenant, DateOnly date, string level, string keyPrefix, string? vendor, CancellationToken cancellationToken);
}

/// <summary>
/// Daily rollups: a day's audit rows aggregated per tenant at every level (tenant, agent type, feature,
/// run, label) × vendor. Re-runnable for any date; the rows depend only on the audit rows.
/// </summary>
public sealed class RollupService(
    IAuditReader reader, IRollupStore store, IMonthRollupStore months, IActivityIndex activity, ReportOptions reports, TimeProvider time)
{
    public static IReadOnlyList<string> Levels { get; } = [.. LabelLevels.Names, "label"];

    /// <summary>The coarsest level whose rows still tell every one of these spend dimensions apart (any level has the vendor).</summary>
    public static string CoarsestLevelFor(IEnumerable<string> dimensions) =>
        Levels[dimensions.Select(d => Math.Max(0, Levels.ToList().IndexOf(d))).Max()];

    /// <summary>How far back the nightly run looks for days that were never rolled up (a stopped app, a new deployment).</summary>
    public const int CatchUpDays = 35;

    /// <summary>
    /// The nightly run, from the activity index alone: rolls every active tenant-day of the last <see cref="CatchUpDays"/>
    /// not yet rolled (yesterday's, and any a missed run left), and every closed tenant-day marked dirty by a late change.
    /// Tenants without activity cost nothing. Returns the tenant-days rolled.
    /// </summary>
    public async Task<IReadOnlyList<TenantDay>> CatchUpAsync(DateOnly today, CancellationToken cancellationToken)
    {
        (IReadOnlyList<TenantDay> unrolled, IReadOnlyList<DirtyMark> dirty) = await NightlyDueAsync(today, cancellationToken);
        await RollAsync([.. unrolled.Select(t => (t, (string?)null)), .. dirty.Select(m => (m.TenantDay, (string?)m.Version))], cancellationToken);
        return [.. unrolled.Concat(dirty.Select(m => m.TenantDay)).Distinct()];
    }

    /// <summary>What the nightly run rolls: the active tenant-days of the catch-up window not rolled yet, and the closed days marked dirty.</summary>
    public async Task<(IReadOnlyList<TenantDay> Unrolled, IReadOnlyList<DirtyMark> Dirty)> NightlyDueAsync(DateOnly today, CancellationToken cancellationToken)
    {
        IReadOnlyList<TenantDay> unrolled = await activity.UnrolledAsync(today.AddDays(-CatchUpDays), today.AddDays(-1), cancellationToken);
        IReadOnlyList<DirtyMark> dirty = [.. (await activity.DirtyAsync(cancellationToken)).Where(m => m.TenantDay.Day < today)];
        return (unrolled, dirty);
    }

    /// <summary>
    /// Rolls closed tenant-days up (a bounded number at once), then marks the unrolled ones rolled (<c>DirtyVersion</c>
    /// null; all in a few index writes) or clears each dirty mark read at that version, only if not marked again meanwhile
    /// (a change that raced this re-roll is rolled next night). Idempotent: a repeat re-rolls the same rows and finds the
    /// marks set or cleared.
    /// </summary>
    public async Task RollAsync(IReadOnlyList<(TenantDay TenantDay, string? DirtyVersion)> tenantDays, CancellationToken cancellationToken)
    {
        await Bounded.SelectAsync(tenantDays, reports.MaxStorageRequestsInFlight, async (item, ct) =>
        {
            // A day not rolled yet is most likely never claimed either: written without a claim (see RunAsync).
            await RunAsync(item.TenantDay.Tenant, item.TenantDay.Day, firstRoll: item.DirtyVersion is null, ct);
            if (item.DirtyVersion is string version)
            {
                await activity.ClearDirtyAsync(new DirtyMark(item.TenantDay, version), ct);
            }

            return item;
        }, cancellationToken);
        await activity.MarkRolledAsync([.. tenantDays.Where(t => t.DirtyVersion is null).Select(t => t.TenantDay)], cancellationToken);
    }

    /// <summary>
    /// After a cost changed at <paramref name="at"/> (a late settlement): if that day is already closed, marks it dirty
    /// and re-rolls it. The mark comes first and stays until the nightly run has re-rolled and re-exported the day, so
    /// a refresh that fails here, or a day older than the export's usual look-back, is still picked up.
    /// </summary>
    public async Task RefreshClosedDayAsync(string tenant, DateTimeOffset at, CancellationToken cancellationToken)
    {
        DateOnly day = DateOnly.FromDateTime(at.UtcDateTime);
        if (day < DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime))
        {
            await activity.MarkDirtyAsync(tenant, day, cancellationToken);
            await RunAsync(tenant, day, cancellationToken);
        }
    }

    /// <summary>Re-rolls a day for every tenant active on it (the others have nothing to roll).</summary>
    public async Task<int> RunAsync(DateOnly date, CancellationToken cancellationToken)
    {
        EnsureOver(date);
        IReadOnlyList<TenantDay> active = await activity.ActiveAsync(date, date, cancellationToken);
        int[] written = await Bounded.SelectAsync(active, reports.MaxStorageRequestsInFlight, (a, ct) => RunAsync(a.Tenant, date, ct), cancellationToken);
        return written.Sum();
    }

    public Task<int> RunAsync(string tenant, DateOnly date, CancellationToken cancellationToken) => RunAsync(tenant, date, firstRoll: false, cancellationToken);

    private async Task<int> RunAsync(string tenant, DateOnly date, bool firstRoll, CancellationToken cancellationToken)
    {
        EnsureOver(date);
        var day = new DateTimeOffset(date.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        if (firstRoll)
        {
            // The nightly run's usual day, never rolled: read, then write the first version with its rows and marker, starting
            // with a transaction that fails if anyone claimed the day since. A run that claimed after a change reads after it, so
            // whichever of the two writes last has the newest snapshot; a failed first write claims and reads again below.
            IReadOnlyList<Rollup> computed = Compute(tenant, date, await ReadDayAsync(tenant, day, cancellationToken));
            if (await store.TryWriteFirstAsync(tenant, date, computed, cancellationToken) is RollupWrite first)
            {
                await months.ReplaceDayAsync(first, MonthRows(computed), cancellationToken);
                return computed.Count;
            }
        }

        // Claimed before the rows are read: a run that reads later (after a settlement) claims later, so the newest
        // claim's snapshot includes every change made before it, and older runs cannot overwrite it.
        RollupWrite claim = await store.ClaimAsync(tenant, date, cancellationToken);
        IReadOnlyList<Rollup> rollups = Compute(tenant, date, await ReadDayAsync(tenant, day, cancellationToken));

        // Written even when empty: the completion marker tells the spend query the day needs no audit read.
        // A newer run claimed the day meanwhile: its snapshot stands, this one wrote nothing more. The month copy
        // follows (the spend query reads a tenant's month in one partition), fenced by the same claim's version.
        if (!await store.ReplaceAsync(claim, rollups, cancellationToken))
        {
            return 0;
        }

        await months.ReplaceDayAsync(claim, MonthRows(rollups), cancellationToken);
        return rollups.Count;
    }

    private static List<Rollup> MonthRows(IReadOnlyList<Rollup> rollups) => [.. rollups.Where(r => IMonthRollupStore.Levels.Contains(r.Level))];

    private Task<IReadOnlyList<AuditEntry>> ReadDayAsync(string tenant, DateTimeOffset day, CancellationToken cancellationToken) =>
        reader.ReadAsync(new AuditPartitionQuery(tenant, day, string.Empty, "~", string.Empty, null, null, int.MaxValue, SpendColumnsOnly: true), cancellationToken);

    /// <summary>A tenant-day's rollups from its audit rows: what a run writes, and what the consistency check expects.</summary>
    public static IReadOnlyList<Rollup> Compute(string tenant, DateOnly date, IReadOnlyList<AuditEntry> rows)
    {
        var rollups = new List<Rollup>();
        foreach (string level in Levels)
        {
            rollups.AddRange(rows
                .GroupBy(r => (Key: KeyOf(r, level), r.Vendor))
                .OrderBy(g => g.Key.Key, StringComparer.Ordinal).ThenBy(g => g.Key.Vendor, StringComparer.Ordinal)
                .Select(g => new Rollup(tenant, date, level, g.Key.Key, g.Key.Vendor,
                    g.Sum(r => Math.Max(0, r.CostMicros)),
                    g.Sum(r => Math.Max(0, -r.CostMicros)),
                    g.Sum(r => r.FeeMicros ?? 0),
                    g.Count(r => r.Outcome != AuditOutcome.Denied),
                    g.Count(r => r.Outcome == AuditOutcome.Denied))));
        }

        return rollups;
    }

    public async Task<IReadOnlyList<Rollup>> ListAsync(OperatorPrincipal caller, DateOnly date, CancellationToken cancellationToken)
    {
        // Root: only the tenants active that day can have rollups for it.
        IReadOnlyList<string> tenants = caller.Tenant is not null
            ? [caller.Tenant]
            : [.. (await activity.ActiveAsync(date, date, cancellationToken)).Select(a => a.Tenant).Distinct().Order(StringComparer.Ordinal)];
        IReadOnlyList<Rollup>[] lists = await Bounded.SelectAsync(tenants, reports.MaxStorageRequestsInFlight, (t, ct) => store.ListAsync(t, date, ct), cancellationToken);
        return [.. lists.SelectMany(l => l)];
    }

    /// <summary>
    /// A rollup is written with its completion marker, and the nightly run never re-rolls a rolled day: rolling a day
    /// still under way would freeze its morning as the whole day (and the export would ship it).
    /// </summary>
    private void EnsureOver(DateOnly date)
    {
        if (date >= DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime))
        {
            throw new KeybrakeException(ErrorKind.Conflict, "day_not_over", $"{date:yyyy-MM-dd} is not over yet (UTC): it can be rolled up from 00:00 UTC the day after.");
        }
    }

    public static DateOnly ParseDate(string? value) =>
        DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out DateOnly date)
            ? date
            : throw KeybrakeException.Invalid("date", "must be a UTC date like 2026-11-02.");

    private static string KeyOf(AuditEntry row, string level)
    {
        int depth = LabelLevels.DepthOf(level);
        return level == "tenant" ? row.Tenant : depth > 0 ? LabelLevels.Of(row.Label).Path(depth) : row.Label;
    }
}
