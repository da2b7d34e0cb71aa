using System.Globalization;
using Azure;
using Azure.Data.Tables;
using Keybrake.Domain.Caps;

namespace Keybrake.Infrastructure.Storage;

/// <summary>Budgets in table <c>{prefix}budgets</c>: PartitionKey = scope (tenant or "*"), RowKey = the label prefix.</summary>
public sealed class TableBudgetStore(KeybrakeTables tables) : IBudgetStore
{
    public async Task<bool> PutAsync(Budget budget, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Budgets, cancellationToken);
        var entity = new TableEntity(budget.Scope, budget.Prefix)
        {
            ["DailyMicros"] = budget.DailyMicros,
            ["MonthlyMicros"] = budget.MonthlyMicros,
            ["AlertThresholds"] = string.Join(',', budget.AlertThresholds.Select(t => t.ToString(CultureInfo.InvariantCulture))),
            ["UpdatedAt"] = budget.UpdatedAt,
            ["OwnerTenant"] = budget.OwnerTenant,
            ["UpdatedBy"] = budget.UpdatedBy,
        };
        try
        {
            // Versioned, so an ownership check made on the value read cannot be raced by another writer.
            if (budget.Version is null)
            {
                await table.AddEntityAsync(entity, cancellationToken);
            }
            else
            {
                await table.UpdateEntityAsync(entity, new ETag(budget.Version), TableUpdateMode.Replace, cancellationToken);
            }

            return true;
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412 or 404)
        {
            return false;
        }
    }

    public async Task<Budget?> GetAsync(string prefix, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Budgets, cancellationToken);
        string scope = new Budget(prefix, null, null, [], default).Scope;
        NullableResponse<TableEntity> response = await table.GetEntityIfExistsAsync<TableEntity>(scope, prefix, cancellationToken: cancellationToken);
        return response.HasValue ? FromEntity(response.Value!) : null;
    }

    public async Task<bool> DeleteAsync(Budget budget, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Budgets, cancellationToken);
        try
        {
            await table.DeleteEntityAsync(budget.Scope, budget.Prefix, budget.Version is null ? ETag.All : new ETag(budget.Version), cancellationToken);
            return true;
        }
        catch (RequestFailedException e) when (e.Status is 412 or 404)
        {
            return false;
        }
    }

    public async Task<IReadOnlyList<Budget>> ListAsync(string? scope, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Budgets, cancellationToken);
        var budgets = new List<Budget>();
        string? filter = scope is null ? null : TableClient.CreateQueryFilter($"PartitionKey eq {scope}");
        await foreach (TableEntity e in table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
        {
            budgets.Add(FromEntity(e));
        }

        return budgets;
    }

    private static Budget FromEntity(TableEntity e) => new(
        e.RowKey,
        e.GetInt64("DailyMicros"),
        e.GetInt64("MonthlyMicros"),
        (e.GetString("AlertThresholds") ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(t => decimal.Parse(t, CultureInfo.InvariantCulture)).ToList(),
        e.GetDateTimeOffset("UpdatedAt") ?? DateTimeOffset.MinValue)
    {
        OwnerTenant = e.GetString("OwnerTenant"),
        UpdatedBy = e.GetString("UpdatedBy"),
        Version = e.ETag.ToString(),
    };
}
