using Azure;
using Azure.Data.Tables;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Common;
using Keybrake.Domain.Work;

namespace Keybrake.Infrastructure.Storage;

/// <summary>
/// The backfill's storage side: the keys table scanned for tenants (this path only), and a tenant-day's audit partition
/// read once to give unsettled rows written before the unsettled index their entries.
/// </summary>
public sealed class TableIndexBackfill(KeybrakeTables tables) : IIndexBackfillStore
{
    private const int MaxAttempts = 10;

    public async Task<IReadOnlyList<string>> TenantsWithKeysAsync(CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Keys, cancellationToken);
        var tenants = new SortedSet<string>(StringComparer.Ordinal);
        await foreach (TableEntity key in table.QueryAsync<TableEntity>(select: ["PartitionKey"], cancellationToken: cancellationToken))
        {
            tenants.Add(key.PartitionKey);
        }

        return [.. tenants.Where(Keybrake.Domain.Labels.Label.IsValidTenant)];
    }

    public async Task<BackfillDay> BackfillAsync(string tenant, DateOnly day, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Audit, cancellationToken);
        string partition = DayPartitions.Of(tenant, day);
        var rows = new List<TableEntity>();
        var indexed = new HashSet<string>(StringComparer.Ordinal);
        await foreach (TableEntity entity in table.QueryAsync<TableEntity>(
                           TableClient.CreateQueryFilter($"PartitionKey eq {partition}"), cancellationToken: cancellationToken))
        {
            if (!entity.RowKey.StartsWith('~'))
            {
                rows.Add(entity);
            }
            else if (entity.RowKey.StartsWith(AuditRowKeys.UnsettledPrefix, StringComparison.Ordinal))
            {
                indexed.Add(entity.RowKey);
            }
        }

        int written = 0;
        foreach (TableEntity row in rows.Where(r => !indexed.Contains(AuditRowKeys.Unsettled(r.RowKey))))
        {
            if (await IndexAsync(table, row, cancellationToken))
            {
                written++;
            }
        }

        return new BackfillDay(rows.Count > 0, written);
    }

    /// <summary>
    /// Indexes one row while it is not final: the entry goes in one transaction with a merge of nothing into the row at the
    /// ETag read, so it is written only if the row is still as read (a move meanwhile wrote or removed the entry itself).
    /// </summary>
    private static async Task<bool> IndexAsync(TableClient table, TableEntity row, CancellationToken cancellationToken)
    {
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            AuditEntry entry = AuditEntities.FromEntity(row);
            if (!entry.Unsettled)
            {
                return false;
            }

            try
            {
                await table.SubmitTransactionAsync(
                [
                    new TableTransactionAction(TableTransactionActionType.UpdateMerge, new TableEntity(row.PartitionKey, row.RowKey), row.ETag),
                    new TableTransactionAction(TableTransactionActionType.Add, AuditEntities.ToUnsettledEntity(entry)),
                ], cancellationToken);
                return true;
            }
            catch (TableTransactionFailedException e) when (e.FailedTransactionActionIndex == 1 && e.Status == 409)
            {
                // Indexed meanwhile, by the move that rewrote it.
                return false;
            }
            catch (TableTransactionFailedException e) when (e.FailedTransactionActionIndex == 0 && e.Status is 412 or 404)
            {
                NullableResponse<TableEntity> fresh = await table.GetEntityIfExistsAsync<TableEntity>(row.PartitionKey, row.RowKey, cancellationToken: cancellationToken);
                if (!fresh.HasValue)
                {
                    return false;
                }

                row = fresh.Value!;
            }
        }

        throw new TimeoutException($"The audit row {row.PartitionKey}/{row.RowKey} kept changing while it was being indexed.");
    }
}
