using System.Globalization;
using Azure;
using Azure.Data.Tables;
using Keybrake.Domain.Export;

namespace Keybrake.Infrastructure.Storage;

/// <summary>
/// The export outbox in table <c>{prefix}exports</c>: PartitionKey = tenant, RowKey
/// <c>{yyyy-MM-dd}|{target}|{sequence:D4}</c>, so a tenant-day's rows are one range read and a new
/// sequence is claimed by inserting it (409 = taken).
/// Beside them, a due index keyed by time: partition <c>~due|{target}</c>, RowKey <c>{next attempt, ticks D19}|{tenant}|{row}</c>,
/// one entry per pending attempt, so a send run reads only what is due instead of filtering the whole table. An
/// entry is written before the row it points at changes, and the row decides: an entry whose row is no longer
/// pending, or is pending for a later time, is stale and deleted when it comes due.
/// </summary>
public sealed class TableExportOutbox(KeybrakeTables tables) : IExportOutbox
{
    // Tenants are [a-z0-9-], so '~' can never name one.
    private const string DuePrefix = "~due|";

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
        await IndexDueAsync(table, record, cancellationToken);
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
        var rows = new Dictionary<(string Tenant, string Row), ExportRecord>();
        string upTo = Ticks(now) + "|~";
        await foreach (TableEntity entry in table.QueryAsync<TableEntity>(
                           TableClient.CreateQueryFilter($"PartitionKey eq {DuePrefix + target} and RowKey lt {upTo}"), cancellationToken: cancellationToken))
        {
            string tenant = entry.GetString("Tenant");
            string row = entry.GetString("Row");
            if (rows.ContainsKey((tenant, row)))
            {
                continue;
            }

            NullableResponse<TableEntity> current = await table.GetEntityIfExistsAsync<TableEntity>(tenant, row, cancellationToken: cancellationToken);
            ExportRecord? record = current.HasValue ? FromEntity(current.Value!) : null;
            if (record is { Status: ExportStatus.Pending } && record.NextAttemptAt <= now)
            {
                rows[(tenant, row)] = record;
                continue;
            }

            // Stale: sent, rejected, or rescheduled (its current entry is later than now). The row keeps its live entry, if any.
            await table.DeleteEntityAsync(entry.PartitionKey, entry.RowKey, ETag.All, cancellationToken);
        }

        return [.. rows.Values.OrderBy(r => r.RecordedAt).ThenBy(r => r.Tenant, StringComparer.Ordinal).ThenBy(r => r.Sequence)];
    }

    public async Task<bool> UpdateDeliveryAsync(ExportRecord record, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Exports, cancellationToken);

        // A merge of the delivery columns only: the event itself (id, customer, value, timestamp) is never rewritten.
        var patch = new TableEntity(record.Tenant, RowKey(record));
        SetDelivery(patch, record);
        await IndexDueAsync(table, record, cancellationToken);
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

    public async Task<bool> DeleteAsync(ExportRecord record, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Exports, cancellationToken);
        try
        {
            await table.DeleteEntityAsync(record.Tenant, RowKey(record), new ETag(record.Version!), cancellationToken);
            return true;
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return true;
        }
        catch (RequestFailedException e) when (e.Status == 412)
        {
            return false;
        }
    }

    public async Task<int> IndexPendingAsync(string tenant, DateOnly day, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Exports, cancellationToken);
        ExportRecord[] pending = [.. (await ListAsync(tenant, day, null, cancellationToken)).Where(r => r.Status == ExportStatus.Pending)];
        foreach (ExportRecord record in pending)
        {
            await IndexDueAsync(table, record, cancellationToken);
        }

        return pending.Length;
    }

    /// <summary>The due entry of a pending attempt, written before the row that it points at (see the class remarks).</summary>
    private static async Task IndexDueAsync(TableClient table, ExportRecord record, CancellationToken cancellationToken)
    {
        if (record.Status != ExportStatus.Pending)
        {
            return;
        }

        string row = RowKey(record);
        await table.UpsertEntityAsync(
            new TableEntity(DuePrefix + record.Target, Ticks(record.NextAttemptAt) + "|" + record.Tenant + "|" + row) { ["Tenant"] = record.Tenant, ["Row"] = row },
            TableUpdateMode.Replace, cancellationToken);
    }

    private static string Ticks(DateTimeOffset at) => at.UtcTicks.ToString("D19", CultureInfo.InvariantCulture);

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
