using System.Globalization;
using Azure.Data.Tables;
using Keybrake.Domain.Caps;

namespace Keybrake.Infrastructure.Storage;

/// <summary>Budgets in table <c>{prefix}budgets</c>: PartitionKey = scope (tenant or "*"), RowKey = the label prefix.</summary>
public sealed class TableBudgetStore(KeybrakeTables tables) : IBudgetStore
{
    public async Task PutAsync(Budget budget, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Budgets, cancellationToken);
        await table.UpsertEntityAsync(
            new TableEntity(budget.Scope, budget.Prefix)
            {
                ["DailyMicros"] = budget.DailyMicros,
                ["MonthlyMicros"] = budget.MonthlyMicros,
                ["AlertThresholds"] = string.Join(',', budget.AlertThresholds.Select(t => t.ToString(CultureInfo.InvariantCulture))),
                ["UpdatedAt"] = budget.UpdatedAt,
            },
            TableUpdateMode.Replace,
            cancellationToken);
    }

    public async Task<IReadOnlyList<Budget>> ListAsync(string? scope, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Budgets, cancellationToken);
        var budgets = new List<Budget>();
        string? filter = scope is null ? null : TableClient.CreateQueryFilter($"PartitionKey eq {scope}");
        await foreach (TableEntity e in table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
        {
            budgets.Add(new Budget(
                e.RowKey,
                e.GetInt64("DailyMicros"),
                e.GetInt64("MonthlyMicros"),
                (e.GetString("AlertThresholds") ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries)
                    .Select(t => decimal.Parse(t, CultureInfo.InvariantCulture)).ToList(),
                e.GetDateTimeOffset("UpdatedAt") ?? DateTimeOffset.MinValue));
        }

        return budgets;
    }
}
