using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using Keybrake.Domain.Caps;

namespace Keybrake.Infrastructure.Storage;

/// <summary>
/// The cap policy (one JSON row in <c>{prefix}settings</c>) and tenants' plans (kept by the
/// <see cref="TableTenantDirectory"/>). Read only when a key is issued without a cap, so nothing here is cached.
/// </summary>
public sealed class TableCapPolicyStore(KeybrakeTables tables, TableTenantDirectory directory) : ICapPolicyStore
{
    private const string PolicyPartition = "cap-policy";

    public async Task<CapPolicy?> GetPolicyAsync(CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Settings, cancellationToken);
        NullableResponse<TableEntity> row = await table.GetEntityIfExistsAsync<TableEntity>(PolicyPartition, string.Empty, cancellationToken: cancellationToken);
        return row.HasValue ? JsonSerializer.Deserialize<CapPolicy>(row.Value!.GetString("Policy")) : null;
    }

    public async Task PutPolicyAsync(CapPolicy policy, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Settings, cancellationToken);
        await table.UpsertEntityAsync(
            new TableEntity(PolicyPartition, string.Empty) { ["Policy"] = JsonSerializer.Serialize(policy) }, TableUpdateMode.Replace, cancellationToken);
    }

    public Task<string?> GetPlanAsync(string tenant, CancellationToken cancellationToken) => directory.GetPlanAsync(tenant, cancellationToken);

    public Task PutPlanAsync(string tenant, string plan, CancellationToken cancellationToken) => directory.PutPlanAsync(tenant, plan, cancellationToken);
}
