using Azure.Data.Tables;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Caps;

namespace Keybrake.Infrastructure.Storage;

/// <summary>
/// The ledger's range reads of a tenant-day: what the reconciler acts on (the unsettled index and the journal, one range
/// under <c>~j</c>), and what the consistency check compares (the audit rows and the counters, one range below <c>~cap}</c>).
/// </summary>
public sealed partial class TableReservationLedger
{
    public async Task<UnsettledDay> UnsettledAsync(string tenant, DateTimeOffset day, DateTimeOffset journalsWrittenBefore, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Audit, cancellationToken);
        string partition = AuditEntry.PartitionFor(tenant, day);
        var rows = new List<AuditEntry>();
        var journals = new List<TableEntity>();
        await foreach (TableEntity entity in table.QueryAsync<TableEntity>(
                           TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {AuditRowKeys.OpenFrom} and RowKey lt {AuditRowKeys.OpenTo}"),
                           cancellationToken: cancellationToken))
        {
            if (entity.RowKey.StartsWith(AuditRowKeys.UnsettledPrefix, StringComparison.Ordinal))
            {
                rows.Add(AuditEntities.FromEntity(entity));
            }
            else if (entity.RowKey.StartsWith(AuditRowKeys.JournalPrefix, StringComparison.Ordinal))
            {
                journals.Add(entity);
            }
        }

        int finished = await FinishJournalsAsync(table, partition, journals, journalsWrittenBefore, cancellationToken);
        return new UnsettledDay(rows, finished);
    }

    public async Task<LedgerDay> DayAsync(string tenant, DateTimeOffset day, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Audit, cancellationToken);
        string partition = AuditEntry.PartitionFor(tenant, day);
        var rows = new List<AuditEntry>();
        var counters = new List<(CounterRef, long)>();

        // Audit rows sort before every '~' row and counters first among those ('~applied|' markers, which a tenant-day
        // rarely holds, are the only rows between): one range read for both.
        await foreach (TableEntity entity in table.QueryAsync<TableEntity>(
                           TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey lt {TableFilters.UpperBound(CounterPrefix)}"),
                           cancellationToken: cancellationToken))
        {
            if (!entity.RowKey.StartsWith('~'))
            {
                rows.Add(AuditEntities.FromEntity(entity));
            }
            else if (entity.RowKey.StartsWith(CounterPrefix, StringComparison.Ordinal))
            {
                counters.Add((new CounterRef(partition, entity.RowKey), entity.GetInt64("UsedMicros") ?? 0));
            }
        }

        return new LedgerDay(rows, counters);
    }

    public async Task<IReadOnlyList<(CounterRef Counter, long Used)>> CountersAsync(string partition, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Audit, cancellationToken);
        var counters = new List<(CounterRef, long)>();
        await foreach (TableEntity entity in table.QueryAsync<TableEntity>(
                           TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {CounterPrefix} and RowKey lt {TableFilters.UpperBound(CounterPrefix)}"),
                           select: ["RowKey", "UsedMicros"], cancellationToken: cancellationToken))
        {
            counters.Add((new CounterRef(partition, entity.RowKey), entity.GetInt64("UsedMicros") ?? 0));
        }

        return counters;
    }
}
