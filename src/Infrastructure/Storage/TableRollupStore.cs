using System.Globalization;
using Azure.Data.Tables;
using Keybrake.Domain.Audit;

namespace Keybrake.Infrastructure.Storage;

/// <summary>Rollups in table <c>{prefix}rollups</c>: PartitionKey <c>{tenant}|{yyyy-MM-dd}</c>, RowKey <c>{level}|{key}|{vendor}</c>.</summary>
public sealed class TableRollupStore(KeybrakeTables tables) : IRollupStore
{
    public async Task ReplaceAsync(string tenant, DateOnly date, IReadOnlyList<Rollup> rollups, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Rollups, cancellationToken);
        string partition = Partition(tenant, date);
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
    }

    public async Task<IReadOnlyList<Rollup>> ListAsync(string tenant, DateOnly date, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Rollups, cancellationToken);
        var rollups = new List<Rollup>();
        await foreach (TableEntity e in table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {Partition(tenant, date)}"), cancellationToken: cancellationToken))
        {
            rollups.Add(new Rollup(tenant, date, e.GetString("Level"), e.GetString("Key"), e.GetString("Vendor"),
                e.GetInt64("GrossMicros") ?? 0, e.GetInt64("RefundsMicros") ?? 0, e.GetInt64("FeeMicros") ?? 0, e.GetInt32("Calls") ?? 0, e.GetInt32("Denied") ?? 0));
        }

        return rollups;
    }

    private static string Partition(string tenant, DateOnly date) => tenant + "|" + date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
}
