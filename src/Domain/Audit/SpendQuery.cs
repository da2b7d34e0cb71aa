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
/// <c>GET /v1/spend</c>: spend grouped by one or two label parts or the vendor, over the tenant-day
/// audit partitions of the window (rollups will replace closed days).
/// </summary>
public sealed class SpendQueryService(IAuditReader reader, IVaultKeyStore keys, TimeProvider time)
{
    public static IReadOnlyList<string> Dimensions { get; } = ["tenant", "agent_type", "feature", "run", "label", "vendor"];

    public async Task<IReadOnlyList<SpendGroup>> QueryAsync(
        OperatorPrincipal caller, DateTimeOffset? since, DateTimeOffset? until, string? groupBy, string? labelPrefix, string? vendor,
        CancellationToken cancellationToken)
    {
        string[] dimensions = (string.IsNullOrEmpty(groupBy) ? "tenant" : groupBy).Split(',', StringSplitOptions.TrimEntries);
        if (dimensions.Length > 2 || dimensions.Any(d => !Dimensions.Contains(d, StringComparer.Ordinal)) || dimensions.Distinct().Count() != dimensions.Length)
        {
            throw KeybrakeException.Invalid("group_by", $"one or two (comma-separated) of {string.Join(", ", Dimensions)}.");
        }

        Label.ValidatePrefix(labelPrefix);
        string prefix = caller.ScopePrefix(labelPrefix);
        DateTimeOffset to = until ?? time.GetUtcNow();
        DateTimeOffset from = since ?? new DateTimeOffset(to.UtcDateTime.Date, TimeSpan.Zero);
        if (from > to || (to - from).TotalDays > 92)
        {
            throw KeybrakeException.Invalid("since", "must not be after until, and the window may span at most 92 days.");
        }

        IReadOnlyList<string> tenants = await AuditQueryService.TenantsInScopeAsync(caller, prefix, keys, cancellationToken);

        // RowKeys are inverted ticks plus a suffix: "~" after the tick digits sorts above every row of that tick.
        string newest = AuditQueryService.RowKeyAt(to.AddTicks(1)) + "~";
        string oldest = AuditQueryService.RowKeyAt(from.AddTicks(-1));
        var reads = new List<Task<IReadOnlyList<AuditEntry>>>();
        for (DateTime day = from.UtcDateTime.Date; day <= to.UtcDateTime.Date; day = day.AddDays(1))
        {
            DateTimeOffset partitionDay = new(day, TimeSpan.Zero);
            reads.AddRange(tenants.Select(tenant => reader.ReadAsync(
                new AuditPartitionQuery(tenant, partitionDay, newest, oldest, prefix, vendor, null, int.MaxValue), cancellationToken)));
        }

        var groups = new Dictionary<string, (string[] Keys, long Gross, long Refunds, long Fee, int Calls, int Denied)>(StringComparer.Ordinal);
        foreach (AuditEntry row in (await Task.WhenAll(reads)).SelectMany(rows => rows))
        {
            string[] key = dimensions.Select(d => KeyOf(row, d)).ToArray();
            string id = string.Join('\u001f', key);
            (string[] Keys, long Gross, long Refunds, long Fee, int Calls, int Denied) g = groups.GetValueOrDefault(id, (key, 0, 0, 0, 0, 0));
            bool denied = row.Outcome == AuditOutcome.Denied;
            groups[id] = (key,
                g.Gross + Math.Max(0, row.CostMicros),
                g.Refunds + Math.Max(0, -row.CostMicros),
                g.Fee + (row.FeeMicros ?? 0),
                g.Calls + (denied ? 0 : 1),
                g.Denied + (denied ? 1 : 0));
        }

        return groups.Values
            .Select(g => new SpendGroup(g.Keys, g.Gross, g.Refunds, g.Fee, g.Calls, g.Denied))
            .OrderByDescending(g => g.NetMicros).ThenBy(g => string.Join('|', g.Keys), StringComparer.Ordinal)
            .ToList();
    }

    private static string KeyOf(AuditEntry row, string dimension)
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
