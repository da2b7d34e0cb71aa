using System.Globalization;
using Azure;
using Azure.Data.Tables;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Common;

namespace Keybrake.Infrastructure.Storage;

/// <summary>
/// Rollups in table <c>{prefix}rollups</c>: PartitionKey <c>{tenant}|{yyyy-MM-dd}</c>, RowKey <c>{level}|{key}|{vendor}</c>,
/// plus a completion marker under <see cref="CompleteRowKey"/> ('~' sorts after every level name).
/// </summary>
public sealed class TableRollupStore(KeybrakeTables tables) : IRollupStore
{
    private const string CompleteRowKey = "~complete";
    private const string VersionRowKey = "~version";

    // A chunk of rows and the fence on the day's version go in one transaction (at most 100 actions).
    private const int RowsPerChunk = 99;
    private const int MaxClaimAttempts = 100;

    public async Task<RollupWrite> ClaimAsync(string tenant, DateOnly date, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Rollups, cancellationToken);
        string partition = Partition(tenant, date);
        for (int attempt = 0; attempt < MaxClaimAttempts; attempt++)
        {
            // The version and the marker in one read: they are the only rows from "~complete" to "~version".
            TableEntity? current = null, marker = null;
            await foreach (TableEntity e in table.QueryAsync<TableEntity>(
                               TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {CompleteRowKey} and RowKey le {VersionRowKey}"),
                               cancellationToken: cancellationToken))
            {
                (current, marker) = e.RowKey == VersionRowKey ? (e, marker) : e.RowKey == CompleteRowKey ? (current, e) : (current, marker);
            }

            long version = (current?.GetInt64("Version") ?? 0) + 1;
            var claim = new TableEntity(partition, VersionRowKey) { ["Version"] = version };

            // Claiming a newer version takes the day's marker away in the same transaction: readers fall back to the
            // audit rows until the newest snapshot is whole, and a writer that stops half-way leaves the day for catch-up.
            List<TableTransactionAction> actions =
            [
                current is not null
                    ? new TableTransactionAction(TableTransactionActionType.UpdateReplace, claim, current.ETag)
                    : new TableTransactionAction(TableTransactionActionType.Add, claim),
            ];
            if (marker is not null)
            {
                actions.Add(new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(partition, CompleteRowKey), marker.ETag));
            }

            try
            {
                Response<IReadOnlyList<Response>> response = await table.SubmitTransactionAsync(actions, cancellationToken);
                return new RollupWrite(tenant, date, version, response.Value[0].Headers.ETag?.ToString() ?? throw new InvalidOperationException("No ETag on the claim."));
            }
            catch (TableTransactionFailedException e) when (e.Status is 409 or 412 or 404)
            {
                // Another run claimed (or completed) at the same moment: claim the next version.
            }
        }

        throw new TimeoutException($"Could not claim the rollups of {tenant} {date:yyyy-MM-dd} after {MaxClaimAttempts} attempts under contention.");
    }

    public async Task<RollupWrite?> TryWriteFirstAsync(string tenant, DateOnly date, IReadOnlyList<Rollup> rollups, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Rollups, cancellationToken);
        string partition = Partition(tenant, date);
        List<TableTransactionAction[]> chunks = Chunks(partition, rollups, 1);

        // Version 1 added, not replaced, with the first chunk: the transaction fails on a version row any claim (or earlier
        // write) left. A day of more than one chunk goes on as a claimed run's does, fenced on that version.
        ETag fence;
        try
        {
            Response<IReadOnlyList<Response>> response = await table.SubmitTransactionAsync(
                [new TableTransactionAction(TableTransactionActionType.Add, new TableEntity(partition, VersionRowKey) { ["Version"] = 1L }), .. chunks[0]],
                cancellationToken);
            fence = response.Value[0].Headers.ETag ?? throw new InvalidOperationException("No ETag on the version.");
        }
        catch (TableTransactionFailedException e) when (e.FailedTransactionActionIndex == 0 && e.Status == 409)
        {
            return null;
        }

        return await WriteFencedAsync(table, partition, 1, fence, chunks.Skip(1), cancellationToken) is ETag last
            ? new RollupWrite(tenant, date, 1, last.ToString())
            : null;
    }

    private static IEnumerable<TableTransactionAction> Rows(string partition, IEnumerable<Rollup> rollups, long version) =>
        rollups.Select(r =>
        {
            TableEntity row = RollupEntity(partition, r.Level + "|" + r.Key + "|" + r.Vendor, r);
            row["Version"] = version;
            return new TableTransactionAction(TableTransactionActionType.UpsertReplace, row);
        });

    /// <summary>One rollup's columns, as the day's and the month's partitions both store them.</summary>
    internal static TableEntity RollupEntity(string partition, string rowKey, Rollup r) => new(partition, rowKey)
    {
        ["Level"] = r.Level,
        ["Key"] = r.Key,
        ["Vendor"] = r.Vendor,
        ["GrossMicros"] = r.GrossMicros,
        ["RefundsMicros"] = r.RefundsMicros,
        ["FeeMicros"] = r.FeeMicros,
        ["Calls"] = r.Calls,
        ["Denied"] = r.Denied,
    };

    private static TableEntity Marker(string partition, int rows, long version) => new(partition, CompleteRowKey) { ["Rows"] = rows, ["Version"] = version };

    public async Task<bool> ReplaceAsync(RollupWrite claim, IReadOnlyList<Rollup> rollups, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Rollups, cancellationToken);
        string partition = Partition(claim.Tenant, claim.Date);
        return await WriteFencedAsync(table, partition, claim.Version, new ETag(claim.Fence), Chunks(partition, rollups, claim.Version), cancellationToken) is not null;
    }

    /// <summary>
    /// A day's rows in transactions of <see cref="RowsPerChunk"/>, the marker in the last one, after every row (a day of up
    /// to 98 rows is one transaction).
    /// </summary>
    private static List<TableTransactionAction[]> Chunks(string partition, IReadOnlyList<Rollup> rollups, long version)
    {
        TableTransactionAction marker = new(TableTransactionActionType.UpsertReplace, Marker(partition, rollups.Count, version));
        List<TableTransactionAction[]> chunks = [.. Rows(partition, rollups, version).Chunk(RowsPerChunk)];
        if (chunks.Count > 0 && chunks[^1].Length < RowsPerChunk)
        {
            chunks[^1] = [.. chunks[^1], marker];
        }
        else
        {
            chunks.Add([marker]);
        }

        return chunks;
    }

    /// <summary>
    /// Writes the chunks, each fenced on the day's version row at <paramref name="fence"/>: once a newer run claims, this
    /// one's next write fails and it stops (null), so an older snapshot never overwrites a newer one, and never writes the
    /// marker. Returns the version row's last ETag.
    /// </summary>
    private static async Task<ETag?> WriteFencedAsync(
        TableClient table, string partition, long version, ETag fence, IEnumerable<TableTransactionAction[]> chunks, CancellationToken cancellationToken)
    {
        var versionRow = new TableEntity(partition, VersionRowKey) { ["Version"] = version };
        foreach (TableTransactionAction[] chunk in chunks)
        {
            try
            {
                Response<IReadOnlyList<Response>> response = await table.SubmitTransactionAsync(
                    [new TableTransactionAction(TableTransactionActionType.UpdateReplace, versionRow, fence), .. chunk], cancellationToken);
                fence = response.Value[0].Headers.ETag ?? ETag.All;
            }
            catch (TableTransactionFailedException e) when (e.FailedTransactionActionIndex == 0 && e.Status is 412 or 404)
            {
                return null;
            }
        }

        return fence;
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
        var versions = new HashSet<long?>();
        long? completeVersion = null;
        bool complete = false;
        int read = 0;
        await foreach (TableEntity e in table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
        {
            read++;
            if (e.RowKey == CompleteRowKey)
            {
                complete = true;
                completeVersion = e.GetInt64("Version");
            }
            else
            {
                levelRows.Add(ToRollup(tenant, date, e));
                versions.Add(e.GetInt64("Version"));
            }
        }

        // The marker vouches only for rows of its own version: anything else is a rewrite under way, never read.
        return complete && versions.All(v => v == completeVersion) ? new RollupDay(levelRows, read) : null;
    }

    private static Rollup ToRollup(string tenant, DateOnly date, TableEntity e) =>
        new(tenant, date, e.GetString("Level"), e.GetString("Key"), e.GetString("Vendor"),
            e.GetInt64("GrossMicros") ?? 0, e.GetInt64("RefundsMicros") ?? 0, e.GetInt64("FeeMicros") ?? 0, e.GetInt32("Calls") ?? 0, e.GetInt32("Denied") ?? 0);

    private static string Partition(string tenant, DateOnly date) => DayPartitions.Of(tenant, date);
}
