using System.Collections.Concurrent;
using Azure;
using Azure.Data.Tables;
using Keybrake.Domain.Export;

namespace Keybrake.Infrastructure.Storage;

/// <summary>
/// Table <c>{prefix}tenants</c>, PartitionKey = tenant, and the only writer of its three row kinds:
/// <list type="bullet">
/// <item><c>keys</c> (<see cref="RegisteredRow"/>): the tenant has had a key, so listing tenants reads one row per
/// tenant rather than every key ever issued (a key per agent run adds up);</item>
/// <item>the empty row key (<see cref="PlanRow"/>): the tenant's plan, for the cap policy;</item>
/// <item><c>billing</c> (<see cref="BillingRow"/>): the tenant's customers in the chargeback meters.</item>
/// </list>
/// </summary>
public sealed class TableTenantDirectory(KeybrakeTables tables) : ITenantBillingStore
{
    private const string RegisteredRow = "keys";
    private const string PlanRow = "";
    private const string BillingRow = "billing";

    private readonly ConcurrentDictionary<string, bool> _registered = new(StringComparer.Ordinal);

    /// <summary>Records that <paramref name="tenant"/> has keys (once per instance: the row never changes).</summary>
    public async Task RegisterAsync(string tenant, CancellationToken cancellationToken)
    {
        if (_registered.ContainsKey(tenant))
        {
            return;
        }

        TableClient table = await tables.GetAsync(KeybrakeTables.Tenants, cancellationToken);
        await table.UpsertEntityAsync(new TableEntity(tenant, RegisteredRow), TableUpdateMode.Merge, cancellationToken);
        _registered[tenant] = true;
    }

    /// <summary>Every tenant that has had a key, in ordinal order.</summary>
    public async Task<IReadOnlyList<string>> TenantsAsync(CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Tenants, cancellationToken);
        var tenants = new SortedSet<string>(StringComparer.Ordinal);
        await foreach (TableEntity entity in table.QueryAsync<TableEntity>(
                           TableClient.CreateQueryFilter($"RowKey eq {RegisteredRow}"), select: ["PartitionKey"], cancellationToken: cancellationToken))
        {
            tenants.Add(entity.PartitionKey);
        }

        return [.. tenants];
    }

    public async Task<string?> GetPlanAsync(string tenant, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Tenants, cancellationToken);
        NullableResponse<TableEntity> row = await table.GetEntityIfExistsAsync<TableEntity>(tenant, PlanRow, cancellationToken: cancellationToken);
        return row.HasValue ? row.Value!.GetString("Plan") : null;
    }

    public async Task PutPlanAsync(string tenant, string plan, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Tenants, cancellationToken);
        await table.UpsertEntityAsync(new TableEntity(tenant, PlanRow) { ["Plan"] = plan }, TableUpdateMode.Merge, cancellationToken);
    }

    Task<TenantBilling?> ITenantBillingStore.GetAsync(string tenant, CancellationToken cancellationToken) => GetBillingAsync(tenant, cancellationToken);

    Task ITenantBillingStore.PutAsync(TenantBilling billing, CancellationToken cancellationToken) => PutBillingAsync(billing, cancellationToken);

    public async Task<TenantBilling?> GetBillingAsync(string tenant, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Tenants, cancellationToken);
        NullableResponse<TableEntity> row = await table.GetEntityIfExistsAsync<TableEntity>(tenant, BillingRow, cancellationToken: cancellationToken);
        return row.HasValue
            ? new TenantBilling(tenant, row.Value!.GetString("StripeCustomerId"), row.Value.GetString("LagoExternalSubscriptionId"), row.Value.GetString("OpenMeterSubject"))
            : null;
    }

    public async Task PutBillingAsync(TenantBilling billing, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Tenants, cancellationToken);
        await table.UpsertEntityAsync(
            new TableEntity(billing.Tenant, BillingRow)
            {
                ["StripeCustomerId"] = billing.StripeCustomerId,
                ["LagoExternalSubscriptionId"] = billing.LagoExternalSubscriptionId,
                ["OpenMeterSubject"] = billing.OpenMeterSubject,
            },
            TableUpdateMode.Replace,
            cancellationToken);
    }
}
