using Keybrake.Domain.Activity;
using Keybrake.Domain.Common;
using Keybrake.Domain.Labels;
using Keybrake.Domain.Operators;

namespace Keybrake.Domain.Audit;

/// <summary>One group of a spend report. Money in micro-dollars; <see cref="RefundsMicros"/> is a positive magnitude.</summary>
public sealed record SpendGroup(IReadOnlyList<string> Keys, long GrossMicros, long RefundsMicros, long FeeMicros, int Calls, int Denied)
{
    public long NetMicros => GrossMicros - RefundsMicros;
}

/// <summary>
/// A spend report and where it came from: <see cref="RollupPartitions"/> rollup partitions read (a tenant's month, or one
/// of its days), which answered <see cref="RolledDays"/> closed tenant-days; <see cref="AuditPartitions"/> tenant-days read
/// from audit rows; <see cref="EntitiesRead"/> what storage returned.
/// </summary>
public sealed record SpendReport(IReadOnlyList<SpendGroup> Groups, int RollupPartitions, int RolledDays, int AuditPartitions, long EntitiesRead);

/// <summary>
/// <c>GET /v1/spend</c>: spend grouped by one or two label parts or the vendor. Only tenant-days in the activity
/// index are read, so a root report costs what was active in its window, not what was ever registered. Whole closed
/// days with a complete rollup are read from their rollups at the level the grouping needs (one read per tenant and
/// month down to features, per tenant-day for runs and labels); today, partial days and days not yet rolled up from
/// their audit rows. Both carry the label path, so every grouping is exact. Reads are queued at most
/// <see cref="ReportOptions.MaxStorageRequestsInFlight"/> at once.
/// </summary>
public sealed class SpendQueryService(
    IAuditReader reader, IRollupStore dayRollups, IMonthRollupStore months, IActivityIndex activity, ReportOptions options, TimeProvider time)
{
    public static IReadOnlyList<string> Dimensions { get; } = [.. LabelLevels.Names, "label", "vendor"];

    public Task<SpendReport> QueryAsync(
        OperatorPrincipal caller, DateTimeOffset? since, DateTimeOffset? until, string? groupBy, string? labelPrefix, string? vendor,
        CancellationToken cancellationToken) =>
        QueryAsync(caller, since, until, groupBy, labelPrefix, vendor, useRollups: true, cancellationToken);

    /// <summary>As above; <paramref name="useRollups"/> false reads every day from audit rows (to compare the two).</summary>
    public async Task<SpendReport> QueryAsync(
        OperatorPrincipal caller, DateTimeOffset? since, DateTimeOffset? until, string? groupBy, string? labelPrefix, string? vendor,
        bool useRollups, CancellationToken cancellationToken)
    {
        string[] dimensions = (string.IsNullOrEmpty(groupBy) ? "tenant" : groupBy).Split(',', StringSplitOptions.TrimEntries);
        if (dimensions.Length > 2 || dimensions.Any(d => !Dimensions.Contains(d, StringComparer.Ordinal)) || dimensions.Distinct().Count() != dimensions.Length)
        {
            throw KeybrakeException.Invalid("group_by", $"one or two (comma-separated) of {string.Join(", ", Dimensions)}.");
        }

        Label.ValidatePrefix(labelPrefix);
        string prefix = caller.ScopePrefix(labelPrefix);
        DateTimeOffset now = time.GetUtcNow();
        DateTimeOffset to = until ?? now;
        DateTimeOffset from = since ?? new DateTimeOffset(to.UtcDateTime.Date, TimeSpan.Zero);
        QueryWindow.Check(from, to);

        DateOnly today = DateOnly.FromDateTime(now.UtcDateTime);
        IReadOnlyList<TenantDay> active = await AuditQueryService.ActiveInScopeAsync(
            caller, prefix, DateOnly.FromDateTime(from.UtcDateTime), DateOnly.FromDateTime(to.UtcDateTime), activity, cancellationToken);
        bool WholeClosedDay(DateOnly day) =>
            useRollups && day < today && from <= Start(day) && to >= Start(day.AddDays(1)).AddTicks(-1);

        // Whole closed days first, from their rollups: one month-partition read per tenant and month at a month level, one
        // day-partition read per day at run or label level. What they do not cover (no complete rollup) is read from audit rows.
        List<RollupRead> rollupReads = [.. active.Where(a => WholeClosedDay(a.Day))
            .GroupBy(a => (a.Tenant, Month: new DateOnly(a.Day.Year, a.Day.Month, 1)))
            .SelectMany(g => RollupReads(g.Key.Tenant, [.. g.Select(a => a.Day)], prefix, dimensions))];
        (IReadOnlyList<Row> Rows, List<DateOnly> Covered, int Entities)[] rolled = await Bounded.SelectAsync(
            rollupReads, options.MaxStorageRequestsInFlight, (r, ct) => ReadRollupsAsync(r, vendor, ct), cancellationToken);
        var covered = new HashSet<TenantDay>(rollupReads.Zip(rolled).SelectMany(p => p.Second.Covered.Select(d => new TenantDay(p.First.Tenant, d))));

        List<TenantDay> fromAudit = [.. active.Where(a => !covered.Contains(a))];
        (IReadOnlyList<Row> Rows, int Entities)[] audited = await Bounded.SelectAsync(
            fromAudit, options.MaxStorageRequestsInFlight, (a, ct) => ReadAuditDayAsync(a, from, to, prefix, vendor, ct), cancellationToken);

        var groups = new Dictionary<string, (string[] Keys, long Gross, long Refunds, long Fee, int Calls, int Denied)>(StringComparer.Ordinal);
        foreach (Row row in rolled.SelectMany(p => p.Rows).Concat(audited.SelectMany(p => p.Rows)))
        {
            string[] key = dimensions.Select(d => KeyOf(row, d)).ToArray();
            string id = string.Join('\u001f', key);
            (string[] Keys, long Gross, long Refunds, long Fee, int Calls, int Denied) g = groups.GetValueOrDefault(id, (key, 0, 0, 0, 0, 0));
            groups[id] = (key, g.Gross + row.Gross, g.Refunds + row.Refunds, g.Fee + row.Fee, g.Calls + row.Calls, g.Denied + row.Denied);
        }

        List<SpendGroup> ordered = groups.Values
            .Select(g => new SpendGroup(g.Keys, g.Gross, g.Refunds, g.Fee, g.Calls, g.Denied))
            .OrderByDescending(g => g.NetMicros).ThenBy(g => string.Join('|', g.Keys), StringComparer.Ordinal)
            .ToList();
        return new SpendReport(ordered, rollupReads.Count, covered.Count, fromAudit.Count, rolled.Sum(p => (long)p.Entities) + audited.Sum(p => (long)p.Entities));
    }

    private static DateTimeOffset Start(DateOnly day) => new(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);

    /// <summary>
    /// Where a tenant's active closed days of one month are read from. A prefix covering the whole tenant (<c>ac</c>,
    /// <c>acme</c>, <c>acme:</c>) reads the coarsest level the grouping needs (a few rows a day); any other prefix reads
    /// labels, whose keys it ranges over. Month levels come from the month partition, the others from each day's.
    /// </summary>
    private static IEnumerable<RollupRead> RollupReads(string tenant, List<DateOnly> days, string prefix, string[] dimensions)
    {
        bool wholeTenant = CoversWholeTenant(tenant, prefix);
        string level = wholeTenant ? RollupService.CoarsestLevelFor(dimensions) : "label";
        string keyPrefix = wholeTenant ? string.Empty : prefix;
        return IMonthRollupStore.Levels.Contains(level)
            ? [new RollupRead(tenant, level, keyPrefix, days, FromMonth: true)]
            : days.Select(d => new RollupRead(tenant, level, keyPrefix, [d], FromMonth: false));
    }

    /// <summary>One rollup partition's rows; <c>Covered</c> are the days it had complete.</summary>
    private async Task<(IReadOnlyList<Row> Rows, List<DateOnly> Covered, int Entities)> ReadRollupsAsync(
        RollupRead read, string? vendor, CancellationToken cancellationToken)
    {
        IReadOnlyDictionary<DateOnly, IReadOnlyList<Rollup>> complete;
        int entities;
        if (read.FromMonth)
        {
            MonthRollupRead month = await months.ReadAsync(read.Tenant, read.Days.Min(), read.Days.Max(), read.Level, read.KeyPrefix, vendor, cancellationToken);
            (complete, entities) = (month.Days, month.EntitiesRead);
        }
        else
        {
            RollupDay? day = await dayRollups.ReadLevelAsync(read.Tenant, read.Days[0], read.Level, read.KeyPrefix, vendor, cancellationToken);
            (complete, entities) = day is null
                ? (new Dictionary<DateOnly, IReadOnlyList<Rollup>>(), 0)
                : (new Dictionary<DateOnly, IReadOnlyList<Rollup>> { [read.Days[0]] = day.Rows }, day.EntitiesRead);
        }

        List<DateOnly> covered = [.. read.Days.Where(complete.ContainsKey)];
        return ([.. covered.SelectMany(d => complete[d]).Select(r => new Row(read.Tenant, r.Key, r.Vendor, r.GrossMicros, r.RefundsMicros, r.FeeMicros, r.Calls, r.Denied))],
            covered, entities);
    }

    /// <summary>Whether every label of <paramref name="tenant"/> starts with <paramref name="prefix"/> (<c>ac</c>, <c>acme</c>, <c>acme:</c>).</summary>
    private static bool CoversWholeTenant(string tenant, string prefix) =>
        tenant.StartsWith(prefix, StringComparison.Ordinal) || prefix == tenant + ":";

    /// <summary>One rollup partition to read: a tenant's month (<see cref="FromMonth"/>) or one of its days.</summary>
    private sealed record RollupRead(string Tenant, string Level, string KeyPrefix, List<DateOnly> Days, bool FromMonth);

    /// <summary>One tenant-day's audit rows inside the window.</summary>
    private async Task<(IReadOnlyList<Row> Rows, int Entities)> ReadAuditDayAsync(
        TenantDay tenantDay, DateTimeOffset from, DateTimeOffset to, string prefix, string? vendor, CancellationToken cancellationToken)
    {
        bool wholeTenant = CoversWholeTenant(tenantDay.Tenant, prefix);

        // RowKeys are inverted ticks plus a suffix: "~" after the tick digits sorts above every row of that tick.
        string newest = AuditQueryService.RowKeyAt(to.AddTicks(1)) + "~";
        string oldest = AuditQueryService.RowKeyAt(from.AddTicks(-1));
        IReadOnlyList<AuditEntry> entries = await reader.ReadAsync(
            new AuditPartitionQuery(tenantDay.Tenant, Start(tenantDay.Day), newest, oldest, wholeTenant ? string.Empty : prefix, vendor, null, int.MaxValue, SpendColumnsOnly: true),
            cancellationToken);
        return (entries.Select(e =>
        {
            bool denied = e.Outcome == AuditOutcome.Denied;
            return new Row(e.Tenant, e.Label, e.Vendor, Math.Max(0, e.CostMicros), Math.Max(0, -e.CostMicros), e.FeeMicros ?? 0, denied ? 0 : 1, denied ? 1 : 0);
        }).ToList(), entries.Count);
    }

    /// <summary>
    /// What an audit row or a rollup row contributes to a group. <see cref="Label"/> is the label, or a rollup
    /// level's label path (<c>acme:billing-agent:unknown</c>), which splits into the same parts.
    /// </summary>
    private sealed record Row(string Tenant, string Label, string Vendor, long Gross, long Refunds, long Fee, int Calls, int Denied);

    private static string KeyOf(Row row, string dimension)
    {
        return dimension switch
        {
            "tenant" => row.Tenant,
            "label" => row.Label,
            "vendor" => row.Vendor,
            _ => LabelLevels.Of(row.Label).Part(LabelLevels.DepthOf(dimension) - 1),
        };
    }
}
