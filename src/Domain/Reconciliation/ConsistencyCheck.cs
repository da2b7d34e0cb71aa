using Keybrake.Domain.Audit;
using Keybrake.Domain.Caps;
using Keybrake.Domain.Common;
using Keybrake.Domain.Activity;

namespace Keybrake.Domain.Reconciliation;

/// <summary>One daily counter: what its audit rows say it holds, and what it holds.</summary>
public sealed record CounterDrift(string Partition, string Counter, long ExpectedMicros, long ActualMicros)
{
    public long DriftMicros => ActualMicros - ExpectedMicros;
}

/// <summary>One rollup row that differs from what the day's audit rows give (null: missing on that side).</summary>
public sealed record RollupDrift(string Tenant, string Level, string Key, string Vendor, Rollup? Expected, Rollup? Rolled);

/// <summary>A tenant's rollup of the day: whether it is complete, how many rows were checked.</summary>
public sealed record RollupCheck(string Tenant, bool Complete, int RowsChecked);

public sealed record ConsistencyReport(DateOnly Date, IReadOnlyList<CounterDrift> Counters, IReadOnlyList<RollupCheck> Rollups, IReadOnlyList<RollupDrift> RollupDrift)
{
    /// <summary>Counters off their rows, and rollup rows off theirs: zero is the only healthy answer.</summary>
    public int DriftCount => Counters.Count(c => c.DriftMicros != 0) + RollupDrift.Count;
}

/// <summary>
/// The check operators run after an incident (and the reconciler after each run): every key and budget counter of a
/// day recomputed from the audit rows that recorded it (each row says which counters it moved and what they hold for
/// it), and every complete rollup of the day recomputed from its rows. Reads only; reports, never repairs.
/// Only the tenants the activity index lists for the day are read (a counter moves only with a call, whose tenant-day
/// is indexed before its reservation is written), a bounded number at once: the cost follows the day's traffic.
/// </summary>
public sealed class ConsistencyCheck(IReservationLedger audit, IRollupStore rollups, IActivityIndex activity, ReportOptions reports, TimeProvider time)
{
    public async Task<ConsistencyReport> RunAsync(DateOnly date, CancellationToken cancellationToken)
    {
        var day = new DateTimeOffset(date.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        var expected = new Dictionary<CounterRef, long>();
        var partitions = new SortedSet<string>(StringComparer.Ordinal) { CapPlanner.DayPartition("*", day) };
        var stored = new List<(CounterRef Counter, long Used)>();
        var rollupChecks = new List<RollupCheck>();
        var rollupDrift = new List<RollupDrift>();
        // A day still under way has no complete rollup (the nightly run rolls only closed days): not asked for.
        bool closed = date < DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        IReadOnlyList<string> tenants = [.. (await activity.ActiveAsync(date, date, cancellationToken)).Select(a => a.Tenant).Distinct().Order(StringComparer.Ordinal)];
        TenantCheck[] checks = await Bounded.SelectAsync(tenants, reports.MaxStorageRequestsInFlight, async (tenant, ct) =>
        {
            // The rows and the counters of the tenant's partition in one read.
            (IReadOnlyList<AuditEntry> rows, IReadOnlyList<(CounterRef Counter, long Used)> counters) = await audit.DayAsync(tenant, day, ct);
            if (!closed || !await rollups.IsCompleteAsync(tenant, date, ct))
            {
                return new TenantCheck(rows, counters, new RollupCheck(tenant, false, 0), []);
            }

            IReadOnlyList<Rollup> rolled = await rollups.ListAsync(tenant, date, ct);
            IReadOnlyList<Rollup> recomputed = RollupService.Compute(tenant, date, rows);
            return new TenantCheck(rows, counters, new RollupCheck(tenant, true, rolled.Count), [.. Compare(tenant, recomputed, rolled)]);
        }, cancellationToken);
        foreach ((string tenant, TenantCheck check) in tenants.Zip(checks))
        {
            partitions.Add(CapPlanner.DayPartition(tenant, day));
            foreach (AuditEntry row in check.Rows)
            {
                foreach (CounterRef counter in row.Counters)
                {
                    expected[counter] = expected.GetValueOrDefault(counter) + row.HeldMicros;
                }
            }

            stored.AddRange(check.Counters);
            rollupChecks.Add(check.Rollup);
            rollupDrift.AddRange(check.Drift);
        }

        // Daily counters only (the tenants' and the cross-tenant partition): a monthly counter sums a whole month.
        var counters = new List<CounterDrift>();
        var seen = new HashSet<CounterRef>();
        // The tenants' partitions came with their rows; the cross-tenant one is read on its own.
        stored.AddRange(await audit.CountersAsync(CapPlanner.DayPartition("*", day), cancellationToken));
        foreach ((CounterRef counter, long used) in stored)
        {
            seen.Add(counter);
            counters.Add(new CounterDrift(counter.Partition, counter.Row, expected.GetValueOrDefault(counter), used));
        }

        // A counter its rows say holds something but that storage does not have at all drifts too.
        counters.AddRange(expected.Where(e => partitions.Contains(e.Key.Partition) && !seen.Contains(e.Key) && e.Value != 0)
            .Select(e => new CounterDrift(e.Key.Partition, e.Key.Row, e.Value, 0)));
        return new ConsistencyReport(date, counters, rollupChecks, rollupDrift);
    }

    private sealed record TenantCheck(
        IReadOnlyList<AuditEntry> Rows, IReadOnlyList<(CounterRef Counter, long Used)> Counters, RollupCheck Rollup, IReadOnlyList<RollupDrift> Drift);

    private static IEnumerable<RollupDrift> Compare(string tenant, IReadOnlyList<Rollup> expected, IReadOnlyList<Rollup> rolled)
    {
        static (string, string, string) Id(Rollup r) => (r.Level, r.Key, r.Vendor);
        Dictionary<(string, string, string), Rollup> stored = rolled.ToDictionary(Id);
        foreach (Rollup row in expected)
        {
            Rollup? found = stored.GetValueOrDefault(Id(row));
            stored.Remove(Id(row));
            if (found != row)
            {
                yield return new RollupDrift(tenant, row.Level, row.Key, row.Vendor, row, found);
            }
        }

        foreach (Rollup extra in stored.Values)
        {
            yield return new RollupDrift(tenant, extra.Level, extra.Key, extra.Vendor, null, extra);
        }
    }
}
