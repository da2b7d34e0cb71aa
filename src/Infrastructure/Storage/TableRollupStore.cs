using System.Globalization;
using Azure;
using Azure.Data.Tables;
using Keybrake.Domain.Audit;

namespace Keybrake.Infrastructure.Storage;

/// <summary>
/// Rollups in table <c>{prefix}rollups</c>: PartitionKey <c>{tenant}|{yyyy-MM-dd}</c>, RowKey <c>{level}|{key}|{vendor}</c>,
/// plus a completion marker under <see cref="CompleteRowKey"/> ('~' sorts after every level name).
/// </summary>
public sealed class TableRollupStore(KeybrakeTables tables) : IRollupStore
{
    private const string CompleteRowKey = "~complete";

    public async Task ReplaceAsync(string tenant, DateOnly date, IReadOnlyList<Rollup> rollups, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Rollups, cancellationToken);
        string partition = Partition(tenant, date);

        // While rows are rewritten the day is not complete: spend readers fall back to the audit rows.
        await table.DeleteEntityAsync(partition, CompleteRowKey, ETag.All, cancellationToken);
        foreach (Rollup[] chunk in rollups.Chunk(100))
        {
            // Upserts of fully computed rows: a re-run writes the same values, a later run (after late settlements) newer ones.
            await table.SubmitTransactionAsync(chunk.Select(r => new TableTransactionAction(TableTransactionActionType.UpsertReplace, new TableEntity(partition, r.Level + "|" + r.Key + "|" + r.Vendor)
            {
                ["Level"] = r.Level,
                ["Key"] = r.Key,
                ["Vendor"] = r.Vendor,
                ["GrossMicros"] = r.GrossMicros,
                ["RefundsMicros"] = r.RefundsMicros,
                ["FeeMicros"] = r.FeeMicros,
                ["Calls"] = r.Calls,
                ["Denied"] = r.Denied,
            })), cancellationToken);
        }

        await table.UpsertEntityAsync(new TableEntity(partition, CompleteRowKey) { ["Rows"] = rollups.Count }, TableUpdateMode.Replace, cancellationToken);
    }

    public async Task<IReadOnlyList<Rollup>> ListAsync(string tenant, DateOnly date, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Rollups, cancellationToken);
        var rollups = new List<Rollup>();
        await foreach (TableEntity e in table.QueryAsync<TableEntity>(
                           TableClient.CreateQueryFilter($"PartitionKey eq {Partition(tenant, date)} and RowKey lt {"~"}"), cancellationToken: cancellationToken))
        {
            rollups.Add(ToRollup(tenant, date, e));
        }

        return rollups;
    }

    public async Task<bool> IsCompleteAsync(string tenant, DateOnly date, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Rollups, cancellationToken);
        NullableResponse<TableEntity> marker = await table.GetEntityIfExistsAsync<TableEntity>(Partition(tenant, date), CompleteRowKey, ["RowKey"], cancellationToken);
        return marker.HasValue;
    }

    public async Task<RollupDay?> ReadLevelAsync(string tenant, DateOnly date, string level, string keyPrefix, string? vendor, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Rollups, cancellationToken);
        string from = level + "|" + keyPrefix;
        string rows = TableClient.CreateQueryFilter($"RowKey ge {from} and RowKey lt {TableFilters.UpperBound(from)}");
        if (vendor is not null)
        {
            rows += " and " + TableClient.CreateQueryFilter($"Vendor eq {vendor}");
        }

        // One query for the rows and the marker; results come in RowKey order, so the marker arrives last.
        string filter = TableClient.CreateQueryFilter($"PartitionKey eq {Partition(tenant, date)}")
                        + " and ((" + rows + ") or " + TableClient.CreateQueryFilter($"RowKey eq {CompleteRowKey}") + ")";
        var levelRows = new List<Rollup>();
        bool complete = false;
        int read = 0;
        await foreach (TableEntity e in table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
        {
            read++;
            if (e.RowKey == CompleteRowKey)
            {
                complete = true;
            }
            else
            {
                levelRows.Add(ToRollup(tenant, date, e));
            }
        }

        return complete ? new RollupDay(levelRows, read) : null;
    }

    private static Rollup ToRollup(string tenant, DateOnly date, TableEntity e) =>
        new(tenant, date, e.GetString("Level"), e.GetString("Key"), e.GetString("Vendor"),
            e.GetInt64("GrossMicros") ?? 0, e.GetInt64("RefundsMicros") ?? 0, e.GetInt64("FeeMicros") ?? 0, e.GetInt32("Calls") ?? 0, e.GetInt32("Denied") ?? 0);

    private static string Partition(string tenant, DateOnly date) => tenant + "|" + date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
}
