using System.Text.Json;
using Azure.Data.Tables;
using Keybrake.Domain.Caps;
using Keybrake.Domain.Audit;

namespace Keybrake.Infrastructure.Storage;

/// <summary>Audit rows to and from table entities; money as Int64 micro-dollars.</summary>
public static class AuditEntities
{
    public static TableEntity ToEntity(AuditEntry e) => new(e.PartitionKey, e.Id)
    {
        ["Ts"] = e.Timestamp,
        ["Tenant"] = e.Tenant,
        ["Label"] = e.Label,
        ["KeyId"] = e.KeyId,
        ["Vendor"] = e.Vendor,
        ["Method"] = e.Method,
        ["Path"] = e.Path,
        ["Operation"] = e.Operation,
        ["Status"] = e.Status,
        ["Outcome"] = e.Outcome,
        ["Reason"] = e.Reason,
        ["CostMicros"] = e.CostMicros,
        ["CostSource"] = e.CostSource,
        ["FeeMicros"] = e.FeeMicros,
        ["OvershootMicros"] = e.OvershootMicros,
        ["Currency"] = e.Currency,
        ["AmountMinor"] = e.AmountMinor,
        ["VendorObjectId"] = e.VendorObjectId,
        ["VendorRequestId"] = e.VendorRequestId,
        ["IdempotencyKey"] = e.IdempotencyKey,
        ["LatencyMs"] = e.LatencyMs,
        ["UpstreamMs"] = e.UpstreamMs,
        ["Replay"] = e.Replay ? true : null,
        ["Counters"] = e.Counters.Count == 0 ? null : JsonSerializer.Serialize(e.Counters.Select(c => new[] { c.Partition, c.Row })),
        ["HeldMicros"] = e.HeldMicros,
    };

    /// <summary>The row's entry in the unsettled index: a whole copy, so the reconciler reads no audit row to act on it.</summary>
    public static TableEntity ToUnsettledEntity(AuditEntry e)
    {
        TableEntity entity = ToEntity(e);
        entity.RowKey = AuditRowKeys.Unsettled(e.Id);
        return entity;
    }

    /// <summary>An audit row, or the copy in its unsettled index entry (whose RowKey carries the row's id after the prefix).</summary>
    public static AuditEntry FromEntity(TableEntity e) => new()
    {
        // A read that selects columns returns no RowKey: no id either.
        Id = e.RowKey?.StartsWith(AuditRowKeys.UnsettledPrefix, StringComparison.Ordinal) == true ? e.RowKey[AuditRowKeys.UnsettledPrefix.Length..] : e.RowKey!,
        Timestamp = e.GetDateTimeOffset("Ts") ?? DateTimeOffset.MinValue,
        Tenant = e.GetString("Tenant"),
        Label = e.GetString("Label"),
        KeyId = e.GetString("KeyId"),
        Vendor = e.GetString("Vendor"),
        Method = e.GetString("Method"),
        Path = e.GetString("Path"),
        Operation = e.GetString("Operation"),
        Status = e.GetInt32("Status"),
        Outcome = e.GetString("Outcome"),
        Reason = e.GetString("Reason"),
        CostMicros = e.GetInt64("CostMicros") ?? 0,
        CostSource = e.GetString("CostSource"),
        FeeMicros = e.GetInt64("FeeMicros"),
        OvershootMicros = e.GetInt64("OvershootMicros"),
        Currency = e.GetString("Currency"),
        AmountMinor = e.GetInt64("AmountMinor"),
        VendorObjectId = e.GetString("VendorObjectId"),
        VendorRequestId = e.GetString("VendorRequestId"),
        IdempotencyKey = e.GetString("IdempotencyKey"),
        LatencyMs = e.GetInt64("LatencyMs"),
        UpstreamMs = e.GetInt64("UpstreamMs"),
        Replay = e.GetBoolean("Replay") ?? false,
        Counters = e.GetString("Counters") is string counters
            ? [.. JsonSerializer.Deserialize<string[][]>(counters)!.Select(c => new CounterRef(c[0], c[1]))]
            : [],
        HeldMicros = e.GetInt64("HeldMicros") ?? 0,
    };
}
