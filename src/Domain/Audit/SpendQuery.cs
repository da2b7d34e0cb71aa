using Keybrake.Domain.Common;
using Keybrake.Domain.Keys;
using Keybrake.Domain.Labels;
using Keybrake.Domain.Operators;

namespace Keybrake.Domain.Audit;

/// <summary>One group of a spend report. Money in micro-dollars; <see cref="RefundsMicros"/> is a positive magnitude.</summary>
public sealed record SpendGroup(IReadOnlyList<string> Keys, long GrossMicros, long RefundsMicros, long FeeMicros, int Calls, int Denied)
{
    public long NetMicros => GrossMicros - RefundsMicros;
}

/// <summary>
/// A spend report and where it came from: <see cref="RollupPartitions"/> closed tenant-days read from their rollups,
/// <see cref="AuditPartitions"/> tenant-days read from audit rows, <see cref="EntitiesRead"/> what storage returned.
/// </summary>
public sealed record SpendReport(IReadOnlyList<SpendGroup> Groups, int RollupPartitions, int AuditPartitions, long EntitiesRead);

/// <summary>
/// <c>GET /v1/spend</c>: spend grouped by one or two label parts or the vendor. Whole closed days with a
/// complete rollup are read from their rollup rows at the level the grouping needs; today, partial days and
/// days not yet rolled up from their audit rows. Both carry the label path, so every grouping is exact.
/// </summary>
public sealed class SpendQueryService(IAuditReader reader, IRollupStore rollups, IVaultKeyStore keys, TimeProvider time)
{
    public static IReadOnlyList<string> Dimensions { get; } = ["tenant", "agent_type", "feature", "run", "label", "vendor"];

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
        if (from > to || (to - from).TotalDays > 92)
        {
            throw KeybrakeException.Invalid("since", "must not be after until, and the window may span at most 92 days.");
        }

        IReadOnlyList<string> tenants = await AuditQueryService.TenantsInScopeAsync(caller, prefix, keys, cancellationToken);
        var days = new List<DateTimeOffset>();
        for (DateTime day = from.UtcDateTime.Date; day <= to.UtcDateTime.Date; day = day.AddDays(1))
        {
            days.Add(new DateTimeOffset(day, TimeSpan.Zero));
        }

        DateTimeOffset today = new(now.UtcDateTime.Date, TimeSpan.Zero);
        (IReadOnlyList<Row> Rows, bool FromRollup, long Entities)[] parts = await Task.WhenAll(
            days.SelectMany(day => tenants.Select(tenant => ReadTenantDayAsync(
                tenant, day, from, to, prefix, vendor, dimensions, useRollups && day < today && from <= day && to >= day.AddDays(1).AddTicks(-1), cancellationToken))));

        var groups = new Dictionary<string, (string[] Keys, long Gross, long Refunds, long Fee, int Calls, int Denied)>(StringComparer.Ordinal);
        foreach (Row row in parts.SelectMany(p => p.Rows))
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
        return new SpendReport(ordered, parts.Count(p => p.FromRollup), parts.Count(p => !p.FromRollup), parts.Sum(p => p.Entities));
    }

    /// <summary>
    /// One tenant-day: its complete rollup when allowed and present, else its audit rows in the window. A prefix
    /// covering the whole tenant (<c>ac</c>, <c>acme</c>, <c>acme:</c>) reads the whole partition, so the rollup can
    /// be read at the coarsest level the grouping needs (a few rows a day) rather than per label.
    /// </summary>
    private async Task<(IReadOnlyList<Row> Rows, bool FromRollup, long Entities)> ReadTenantDayAsync(
        string tenant, DateTimeOffset day, DateTimeOffset from, DateTimeOffset to, string prefix, string? vendor, string[] dimensions, bool closedDay,
        CancellationToken cancellationToken)
    {
        bool wholeTenant = tenant.StartsWith(prefix, StringComparison.Ordinal) || prefix == tenant + ":";
        string keyPrefix = wholeTenant ? string.Empty : prefix;
        string level = wholeTenant ? RollupService.CoarsestLevelFor(dimensions) : "label";
        if (closedDay && await rollups.ReadLevelAsync(tenant, DateOnly.FromDateTime(day.UtcDateTime), level, keyPrefix, vendor, cancellationToken) is { } rolled)
        {
            return (rolled.Rows.Select(r => new Row(tenant, r.Key, r.Vendor, r.GrossMicros, r.RefundsMicros, r.FeeMicros, r.Calls, r.Denied)).ToList(), true, rolled.EntitiesRead);
        }

        // RowKeys are inverted ticks plus a suffix: "~" after the tick digits sorts above every row of that tick.
        string newest = AuditQueryService.RowKeyAt(to.AddTicks(1)) + "~";
        string oldest = AuditQueryService.RowKeyAt(from.AddTicks(-1));
        IReadOnlyList<AuditEntry> entries = await reader.ReadAsync(
            new AuditPartitionQuery(tenant, day, newest, oldest, keyPrefix, vendor, null, int.MaxValue, SpendColumnsOnly: true), cancellationToken);
        return (entries.Select(e =>
        {
            bool denied = e.Outcome == AuditOutcome.Denied;
            return new Row(e.Tenant, e.Label, e.Vendor, Math.Max(0, e.CostMicros), Math.Max(0, -e.CostMicros), e.FeeMicros ?? 0, denied ? 0 : 1, denied ? 1 : 0);
        }).ToList(), false, entries.Count);
    }

    /// <summary>
    /// What an audit row or a rollup row contributes to a group. <see cref="Label"/> is the label, or a rollup
    /// level's label path (<c>acme:billing-agent:unknown</c>), which splits into the same parts.
    /// </summary>
    private sealed record Row(string Tenant, string Label, string Vendor, long Gross, long Refunds, long Fee, int Calls, int Denied);

    private static string KeyOf(Row row, string dimension)
    {
        string[] parts = row.Label.Split(':', 4);
        string Part(int i) => parts.Length > i && parts[i].Length > 0 ? parts[i] : "unknown";
        return dimension switch
        {
            "tenant" => row.Tenant,
            "agent_type" => Part(1),
            "feature" => Part(2),
            "run" => Part(3),
            "label" => row.Label,
            _ => row.Vendor,
        };
    }
}
