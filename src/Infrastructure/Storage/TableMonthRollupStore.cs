using System.Globalization;
using Azure;
using Azure.Data.Tables;
using Keybrake.Domain.Audit;

namespace Keybrake.Infrastructure.Storage;

/// <summary>
/// Month-partitioned rollups in table <c>{prefix}rollupmonths</c>: PartitionKey <c>{tenant}|{yyyy-MM}</c>, RowKey
/// <c>{yyyy-MM-dd}|{level}|{key}|{vendor}</c>, and per day a completion marker <c>{yyyy-MM-dd}|~complete</c> ('~' sorts
/// after every level name, so a day's marker follows its rows). A day of at most 99 rows is written with its marker in
/// one entity-group transaction, so a reader sees the whole day or none of it.
/// </summary>
public sealed class TableMonthRollupStore(KeybrakeTables tables) : IMonthRollupStore
{
    private const string Complete = "~complete";

    public async Task ReplaceDayAsync(RollupWrite claim, IReadOnlyList<Rollup> rollups, CancellationToken cancellationToken)
    {
        if (claim.Version == 1 && await TryAddDayAsync(claim, rollups, cancellationToken))
        {
            return;
        }

        // A conflict means another run wrote the day's copy between this one's read and write: read again and let the
        // versions decide (an older run then stops; a newer one writes over the older copy).
        for (int attempt = 0; !await TryReplaceDayAsync(claim, rollups, cancellationToken); attempt++)
        {
            if (attempt == 4)
            {
                throw new InvalidOperationException($"The month rollup of {claim.Tenant} {claim.Date:yyyy-MM-dd} kept changing under this run.");
            }
        }
    }

    /// <summary>
    /// A day's first copy (the daily claim's first version), without reading: its rows and marker in one transaction that
    /// fails when a copy of the day is there already (then the caller reads it and lets the versions decide).
    /// </summary>
    private async Task<bool> TryAddDayAsync(RollupWrite claim, IReadOnlyList<Rollup> rollups, CancellationToken cancellationToken)
    {
        if (rollups.Count + 1 > 100)
        {
            return false;
        }

        TableClient table = await tables.GetAsync(KeybrakeTables.RollupMonths, cancellationToken);
        string partition = Partition(claim.Tenant, claim.Date);
        try
        {
            await table.SubmitTransactionAsync(
            [
                new TableTransactionAction(TableTransactionActionType.Add,
                    new TableEntity(partition, Day(claim.Date) + "|" + Complete) { ["Complete"] = true, ["Rows"] = rollups.Count, ["Version"] = claim.Version }),
                .. rollups.Select(r => new TableTransactionAction(TableTransactionActionType.UpsertReplace, Row(partition, claim.Date, r))),
            ], cancellationToken);
            return true;
        }
        catch (TableTransactionFailedException e) when (e.FailedTransactionActionIndex == 0 && e.Status == 409)
        {
            return false;
        }
    }

    private static TableEntity Row(string partition, DateOnly date, Rollup r) =>
        TableRollupStore.RollupEntity(partition, Day(date) + "|" + r.Level + "|" + r.Key + "|" + r.Vendor, r);

    private async Task<bool> TryReplaceDayAsync(RollupWrite claim, IReadOnlyList<Rollup> rollups, CancellationToken cancellationToken)
    {
        (string tenant, DateOnly date) = (claim.Tenant, claim.Date);
        TableClient table = await tables.GetAsync(KeybrakeTables.RollupMonths, cancellationToken);
        string partition = Partition(tenant, date);
        string marker = Day(date) + "|" + Complete;

        // The day's copy carries the daily claim's version: an older run finishing late never overwrites a newer copy.
        NullableResponse<TableEntity> current = await table.GetEntityIfExistsAsync<TableEntity>(partition, marker, cancellationToken: cancellationToken);
        if (current.HasValue && (current.Value!.GetInt64("Version") ?? 0) > claim.Version)
        {
            return true;
        }

        List<TableTransactionAction> rows =
        [
            .. rollups.Select(r => new TableTransactionAction(TableTransactionActionType.UpsertReplace, Row(partition, date, r))),
        ];
        var markerRow = new TableEntity(partition, marker) { ["Complete"] = true, ["Rows"] = rollups.Count, ["Version"] = claim.Version };
        bool split = rows.Count + 1 > 100;
        try
        {
            if (split && current.HasValue)
            {
                // Too many for one transaction: the day is incomplete (read from audit rows) while its rows are rewritten.
                await table.DeleteEntityAsync(partition, marker, current.Value!.ETag, cancellationToken);
            }
        }
        catch (RequestFailedException e) when (e.Status is 404 or 412)
        {
            return false;
        }

        rows.Add(current.HasValue && !split
            ? new TableTransactionAction(TableTransactionActionType.UpdateReplace, markerRow, current.Value!.ETag)
            : new TableTransactionAction(TableTransactionActionType.Add, markerRow));

        // Upserts of fully computed rows, as in the daily store: a re-run writes the same values, a later run newer ones.
        try
        {
            foreach (TableTransactionAction[] chunk in rows.Chunk(100))
            {
                await table.SubmitTransactionAsync(chunk, cancellationToken);
            }
        }
        catch (TableTransactionFailedException e) when (e.Status is 404 or 409 or 412)
        {
            return false;
        }

        return true;
    }

    public async Task<MonthRollupRead> ReadAsync(
        string tenant, DateOnly from, DateOnly to, string level, string keyPrefix, string? vendor, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.RollupMonths, cancellationToken);
        string rows = TableClient.CreateQueryFilter($"Level eq {level}");
        if (keyPrefix.Length > 0)
        {
            rows += " and " + TableClient.CreateQueryFilter($"Key ge {keyPrefix} and Key lt {TableFilters.UpperBound(keyPrefix)}");
        }

        if (vendor is not null)
        {
            rows += " and " + TableClient.CreateQueryFilter($"Vendor eq {vendor}");
        }

        // One query for the rows and the markers of every day in the range.
        string filter = TableClient.CreateQueryFilter($"PartitionKey eq {Partition(tenant, from)} and RowKey ge {Day(from) + "|"} and RowKey lt {Day(to) + "|~~"}")
                        + " and ((" + rows + ") or Complete eq true)";
        var byDay = new Dictionary<DateOnly, List<Rollup>>();
        var complete = new HashSet<DateOnly>();
        int read = 0;
        await foreach (TableEntity e in table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
        {
            read++;
            DateOnly day = DateOnly.ParseExact(e.RowKey[..10], "yyyy-MM-dd", CultureInfo.InvariantCulture);
            if (e.RowKey.EndsWith("|" + Complete, StringComparison.Ordinal))
            {
                complete.Add(day);
                continue;
            }

            if (!byDay.TryGetValue(day, out List<Rollup>? list))
            {
                byDay[day] = list = [];
            }

            list.Add(new Rollup(tenant, day, e.GetString("Level"), e.GetString("Key"), e.GetString("Vendor"),
                e.GetInt64("GrossMicros") ?? 0, e.GetInt64("RefundsMicros") ?? 0, e.GetInt64("FeeMicros") ?? 0, e.GetInt32("Calls") ?? 0, e.GetInt32("Denied") ?? 0));
        }

        // A day's rows without its marker are a rewrite under way: the caller reads that day's audit rows instead.
        return new MonthRollupRead(complete.ToDictionary(d => d, d => (IReadOnlyList<Rollup>)(byDay.GetValueOrDefault(d) ?? [])), read);
    }

    private static string Partition(string tenant, DateOnly date) => tenant + "|" + date.ToString("yyyy-MM", CultureInfo.InvariantCulture);

    private static string Day(DateOnly date) => date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
}
