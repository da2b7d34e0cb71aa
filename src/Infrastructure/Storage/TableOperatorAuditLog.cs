using System.Globalization;
using Azure;
using Azure.Data.Tables;
using Keybrake.Domain.Operators;

namespace Keybrake.Infrastructure.Storage;

/// <summary>
/// Operator actions in table <c>{prefix}operatoraudit</c>: PartitionKey = the UTC day (yyyyMMdd), RowKey =
/// inverted ticks + random, so a day reads newest first and a window reads only its days. Operator writes
/// are rare, so one partition per day (not per tenant) keeps root's "everything" query a few point ranges.
/// </summary>
public sealed class TableOperatorAuditLog(KeybrakeTables tables) : IOperatorAuditLog
{
    public async Task RecordAsync(OperatorAction action, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.OperatorAudit, cancellationToken);
        await table.UpsertEntityAsync(
            new TableEntity(Day(action.Timestamp), action.Id)
            {
                ["At"] = action.Timestamp,
                ["Operator"] = action.Operator,
                ["Tenant"] = action.Tenant,
                ["Method"] = action.Method,
                ["Route"] = action.Route,
                ["Target"] = action.Target,
                ["Status"] = action.Status,
                ["Outcome"] = action.Outcome,
                ["Before"] = action.Before,
                ["After"] = action.After,
            },
            TableUpdateMode.Replace,
            cancellationToken);
    }

    public async Task<IReadOnlyList<OperatorAction>> ListAsync(
        string? tenant, DateTimeOffset since, DateTimeOffset until, int limit, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.OperatorAudit, cancellationToken);
        var actions = new List<OperatorAction>();
        string from = RowKeyAt(until);
        string to = RowKeyAt(since) + "~";
        for (DateTime day = until.UtcDateTime.Date; day >= since.UtcDateTime.Date && actions.Count < limit; day = day.AddDays(-1))
        {
            string filter = TableClient.CreateQueryFilter($"PartitionKey eq {Day(day)} and RowKey ge {from} and RowKey lt {to}");
            if (tenant is not null)
            {
                filter += " and " + TableClient.CreateQueryFilter($"Tenant eq {tenant}");
            }

            await foreach (TableEntity e in table.QueryAsync<TableEntity>(filter, maxPerPage: Math.Min(1000, limit), cancellationToken: cancellationToken))
            {
                actions.Add(FromEntity(e));
                if (actions.Count == limit)
                {
                    break;
                }
            }
        }

        return actions;
    }

    private static string Day(DateTimeOffset at) => at.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture);

    private static string RowKeyAt(DateTimeOffset at) => (DateTime.MaxValue.Ticks - at.UtcTicks).ToString("D19", CultureInfo.InvariantCulture);

    private static OperatorAction FromEntity(TableEntity e) => new()
    {
        Id = e.RowKey,
        Timestamp = e.GetDateTimeOffset("At") ?? DateTimeOffset.MinValue,
        Operator = e.GetString("Operator") ?? "unknown",
        Tenant = e.GetString("Tenant"),
        Method = e.GetString("Method") ?? string.Empty,
        Route = e.GetString("Route") ?? string.Empty,
        Target = e.GetString("Target"),
        Status = e.GetInt32("Status"),
        Outcome = e.GetString("Outcome") ?? OperatorActionOutcome.Started,
        Before = e.GetString("Before"),
        After = e.GetString("After"),
    };
}
