using System.Globalization;
using Azure;
using Azure.Data.Tables;
using Keybrake.Domain.Export;

namespace Keybrake.Infrastructure.Storage;

/// <summary>
/// The export outbox in table <c>{prefix}exports</c>: PartitionKey = tenant, RowKey
/// <c>{yyyy-MM-dd}|{target}|{sequence:D4}</c>, so a tenant-day's rows are one range read and a new
/// sequence is claimed by inserting it (409 = taken).
/// </summary>
public sealed class TableExportOutbox(KeybrakeTables tables) : IExportOutbox
{
    public async Task<IReadOnlyList<ExportRecord>> ListAsync(string tenant, DateOnly day, string? target, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Exports, cancellationToken);
        string prefix = Day(day) + "|" + (target is null ? string.Empty : target + "|");
        var rows = new List<ExportRecord>();
        await foreach (TableEntity e in table.QueryAsync<TableEntity>(
                           TableClient.CreateQueryFilter($"PartitionKey eq {tenant} and RowKey ge {prefix} and RowKey lt {TableFilters.UpperBound(prefix)}"),
                           cancellationToken: cancellationToken))
        {
            rows.Add(FromEntity(e));
        }

        return rows;
    }

    public async Task<bool> TryAddAsync(ExportRecord record, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Exports, cancellationToken);
        var entity = new TableEntity(record.Tenant, RowKey(record))
        {
            ["Day"] = record.DayText,
            ["Target"] = record.Target,
            ["Sequence"] = record.Sequence,
            ["EventId"] = record.EventId,
            ["Kind"] = record.Kind,
            ["Customer"] = record.Customer,
            ["EventName"] = record.EventName,
            ["ValueCents"] = record.ValueCents,
            ["NetMicros"] = record.NetMicros,
            ["EventTimestamp"] = record.Timestamp,
            ["RecordedAt"] = record.RecordedAt,
        };
        SetDelivery(entity, record);
        try
        {
            await table.AddEntityAsync(entity, cancellationToken);
            return true;
        }
        catch (RequestFailedException e) when (e.Status == 409)
        {
            return false;
        }
    }

    public async Task<IReadOnlyList<ExportRecord>> DueAsync(string target, DateTimeOffset now, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Exports, cancellationToken);
        var rows = new List<ExportRecord>();
        await foreach (TableEntity e in table.QueryAsync<TableEntity>(
                           TableClient.CreateQueryFilter($"Status eq {ExportStatus.Pending} and Target eq {target} and NextAttemptAt le {now}"),
                           cancellationToken: cancellationToken))
        {
            rows.Add(FromEntity(e));
        }

        return [.. rows.OrderBy(r => r.RecordedAt).ThenBy(r => r.Tenant, StringComparer.Ordinal).ThenBy(r => r.Sequence)];
    }

    public async Task<bool> UpdateDeliveryAsync(ExportRecord record, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Exports, cancellationToken);

        // A merge of the delivery columns only: the event itself (id, customer, value, timestamp) is never rewritten.
        var patch = new TableEntity(record.Tenant, RowKey(record));
        SetDelivery(patch, record);
        try
        {
            await table.UpdateEntityAsync(patch, new ETag(record.Version!), TableUpdateMode.Merge, cancellationToken);
            return true;
        }
        catch (RequestFailedException e) when (e.Status == 412)
        {
            return false;
        }
    }

    private static void SetDelivery(TableEntity entity, ExportRecord record)
    {
        entity["Status"] = record.Status;
        entity["Attempts"] = record.Attempts;
        entity["NextAttemptAt"] = record.NextAttemptAt;
        entity["LastError"] = record.LastError;
        entity["SentAt"] = record.SentAt;
        entity["Duplicate"] = record.Duplicate;
    }

    private static string RowKey(ExportRecord record) =>
        Day(record.Day) + "|" + record.Target + "|" + record.Sequence.ToString("D4", CultureInfo.InvariantCulture);

    private static string Day(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static ExportRecord FromEntity(TableEntity e) => new()
    {
        Tenant = e.PartitionKey,
        Day = DateOnly.ParseExact(e.GetString("Day"), "yyyy-MM-dd", CultureInfo.InvariantCulture),
        Target = e.GetString("Target"),
        Sequence = e.GetInt32("Sequence") ?? 0,
        Customer = e.GetString("Customer"),
        EventName = e.GetString("EventName"),
        ValueCents = e.GetInt64("ValueCents") ?? 0,
        NetMicros = e.GetInt64("NetMicros") ?? 0,
        Timestamp = e.GetDateTimeOffset("EventTimestamp") ?? DateTimeOffset.MinValue,
        Status = e.GetString("Status"),
        Attempts = e.GetInt32("Attempts") ?? 0,
        NextAttemptAt = e.GetDateTimeOffset("NextAttemptAt") ?? DateTimeOffset.MinValue,
        LastError = e.GetString("LastError"),
        RecordedAt = e.GetDateTimeOffset("RecordedAt") ?? DateTimeOffset.MinValue,
        SentAt = e.GetDateTimeOffset("SentAt"),
        Duplicate = e.GetBoolean("Duplicate") ?? false,
        Version = e.ETag.ToString(),
    };
}
