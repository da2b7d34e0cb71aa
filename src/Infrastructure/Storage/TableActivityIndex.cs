using System.Collections.Concurrent;
using System.Globalization;
using Azure;
using Azure.Data.Tables;
using Keybrake.Domain.Activity;

namespace Keybrake.Infrastructure.Storage;

/// <summary>
/// The activity index in table <c>{prefix}activity</c>. Active tenant-days: PartitionKey <c>{yyyy-MM}</c>, RowKey
/// <c>{yyyy-MM-dd}|{tenant}</c>, so a root report over a window is one range read per month it spans, and a tenant's
/// days in a month are one partition read filtered on <c>Tenant</c>. Dirty marks: PartitionKey <see cref="Dirty"/>,
/// same RowKeys, so the nightly run reads them all in one partition read.
/// </summary>
public sealed class TableActivityIndex(KeybrakeTables tables) : IActivityIndex
{
    // Tenants are [a-z0-9-] and months digits, so '~' can name neither.
    private const string Dirty = "~dirty";

    // Tenant-days this instance has written: a warm call adds no storage request. Keyed by day so old days can be dropped.
    private readonly ConcurrentDictionary<DateOnly, ConcurrentDictionary<string, byte>> _recorded = new();

    public async Task RecordAsync(string tenant, DateOnly day, CancellationToken cancellationToken)
    {
        ConcurrentDictionary<string, byte> tenants = _recorded.GetOrAdd(day, _ => new ConcurrentDictionary<string, byte>(StringComparer.Ordinal));
        if (tenants.ContainsKey(tenant))
        {
            return;
        }

        TableClient table = await tables.GetAsync(KeybrakeTables.Activity, cancellationToken);
        // An upsert: every instance writes the same row, so racing writers agree and none fails. Rolled is written false
        // (a filter never matches a missing property); a replace after the nightly run only makes it roll the day again.
        await table.UpsertEntityAsync(
            new TableEntity(Month(day), Row(day, tenant)) { ["Tenant"] = tenant, ["Rolled"] = false }, TableUpdateMode.Replace, cancellationToken);
        tenants.TryAdd(tenant, 0);
        foreach (DateOnly old in _recorded.Keys.Where(d => d < day.AddDays(-1)))
        {
            // Calls arrive for today (and, around midnight, yesterday): older days are never asked for again.
            _recorded.TryRemove(old, out _);
        }
    }

    public async Task BackfillAsync(string tenant, DateOnly day, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Activity, cancellationToken);
        try
        {
            await table.AddEntityAsync(new TableEntity(Month(day), Row(day, tenant)) { ["Tenant"] = tenant, ["Rolled"] = false }, cancellationToken);
        }
        catch (RequestFailedException e) when (e.Status == 409)
        {
            // Indexed already (by the proxy, or an earlier backfill): its rolled mark stands.
        }
    }

    public Task<IReadOnlyList<TenantDay>> ActiveAsync(DateOnly from, DateOnly to, CancellationToken cancellationToken) =>
        ActiveAsync(from, to, onlyUnrolled: false, cancellationToken);

    public Task<IReadOnlyList<TenantDay>> UnrolledAsync(DateOnly from, DateOnly to, CancellationToken cancellationToken) =>
        ActiveAsync(from, to, onlyUnrolled: true, cancellationToken);

    public async Task MarkRolledAsync(IReadOnlyList<TenantDay> tenantDays, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Activity, cancellationToken);

        // A month is one partition: its days go in transactions of up to 100, so a work item's marks are a request or two.
        // Merged with the tenant, so a mark never makes an entry without it.
        foreach (IGrouping<string, TenantDay> month in tenantDays.Distinct().GroupBy(t => Month(t.Day)))
        {
            foreach (TenantDay[] chunk in month.Chunk(100))
            {
                await table.SubmitTransactionAsync(chunk.Select(t => new TableTransactionAction(TableTransactionActionType.UpsertMerge,
                    new TableEntity(month.Key, Row(t.Day, t.Tenant)) { ["Tenant"] = t.Tenant, ["Rolled"] = true })), cancellationToken);
            }
        }
    }

    private async Task<IReadOnlyList<TenantDay>> ActiveAsync(DateOnly from, DateOnly to, bool onlyUnrolled, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Activity, cancellationToken);
        var active = new List<TenantDay>();
        foreach ((DateOnly first, DateOnly last) in Months(from, to))
        {
            string filter = TableClient.CreateQueryFilter(
                $"PartitionKey eq {Month(first)} and RowKey ge {Day(first) + "|"} and RowKey lt {Day(last) + "|~"}");
            if (onlyUnrolled)
            {
                filter += " and " + TableClient.CreateQueryFilter($"Rolled eq {false}");
            }

            await foreach (TableEntity e in table.QueryAsync<TableEntity>(filter, select: ["RowKey"], cancellationToken: cancellationToken))
            {
                active.Add(Parse(e.RowKey));
            }
        }

        return active;
    }

    public async Task<IReadOnlyList<DateOnly>> ActiveDaysAsync(string tenant, DateOnly from, DateOnly to, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Activity, cancellationToken);
        var days = new List<DateOnly>();
        foreach ((DateOnly first, DateOnly last) in Months(from, to))
        {
            string filter = TableClient.CreateQueryFilter(
                $"PartitionKey eq {Month(first)} and RowKey ge {Day(first) + "|"} and RowKey lt {Day(last) + "|~"} and Tenant eq {tenant}");
            await foreach (TableEntity e in table.QueryAsync<TableEntity>(filter, select: ["RowKey"], cancellationToken: cancellationToken))
            {
                days.Add(Parse(e.RowKey).Day);
            }
        }

        return days;
    }

    public async Task MarkDirtyAsync(string tenant, DateOnly day, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Activity, cancellationToken);
        // Replaced on every mark: the new ETag is what tells a clear that raced this mark to leave it.
        await table.UpsertEntityAsync(new TableEntity(Dirty, Row(day, tenant)) { ["Tenant"] = tenant }, TableUpdateMode.Replace, cancellationToken);
    }

    public async Task<IReadOnlyList<DirtyMark>> DirtyAsync(CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Activity, cancellationToken);
        var marks = new List<DirtyMark>();
        await foreach (TableEntity e in table.QueryAsync<TableEntity>(
                           TableClient.CreateQueryFilter($"PartitionKey eq {Dirty}"), select: ["RowKey"], cancellationToken: cancellationToken))
        {
            marks.Add(new DirtyMark(Parse(e.RowKey), e.ETag.ToString()));
        }

        return marks;
    }

    public async Task<bool> ClearDirtyAsync(DirtyMark mark, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Activity, cancellationToken);
        try
        {
            await table.DeleteEntityAsync(Dirty, Row(mark.TenantDay.Day, mark.TenantDay.Tenant), new ETag(mark.Version), cancellationToken);
            return true;
        }
        catch (RequestFailedException e) when (e.Status == 412)
        {
            return false;
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            // Cleared already (another worker took the same mark).
            return true;
        }
    }

    private static IEnumerable<(DateOnly First, DateOnly Last)> Months(DateOnly from, DateOnly to)
    {
        for (DateOnly first = from; first <= to; first = new DateOnly(first.Year, first.Month, 1).AddMonths(1))
        {
            DateOnly endOfMonth = new DateOnly(first.Year, first.Month, 1).AddMonths(1).AddDays(-1);
            yield return (first, endOfMonth < to ? endOfMonth : to);
        }
    }

    private static string Month(DateOnly day) => day.ToString("yyyy-MM", CultureInfo.InvariantCulture);

    private static string Day(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static string Row(DateOnly day, string tenant) => Day(day) + "|" + tenant;

    private static TenantDay Parse(string row) =>
        new(row[11..], DateOnly.ParseExact(row[..10], "yyyy-MM-dd", CultureInfo.InvariantCulture));
}
