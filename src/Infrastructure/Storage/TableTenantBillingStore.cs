using Azure;
using Azure.Data.Tables;
using Keybrake.Domain.Export;

namespace Keybrake.Infrastructure.Storage;

/// <summary>Tenants' billing customers in table <c>{prefix}tenants</c>, PartitionKey = tenant, RowKey <c>billing</c> (beside the plan row).</summary>
public sealed class TableTenantBillingStore(KeybrakeTables tables) : ITenantBillingStore
{
    private const string Row = "billing";

    public async Task<TenantBilling?> GetAsync(string tenant, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Tenants, cancellationToken);
        NullableResponse<TableEntity> row = await table.GetEntityIfExistsAsync<TableEntity>(tenant, Row, cancellationToken: cancellationToken);
        return row.HasValue
            ? new TenantBilling(tenant, row.Value!.GetString("StripeCustomerId"), row.Value.GetString("LagoExternalSubscriptionId"), row.Value.GetString("OpenMeterSubject"))
            : null;
    }

    public async Task PutAsync(TenantBilling billing, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Tenants, cancellationToken);
        await table.UpsertEntityAsync(
            new TableEntity(billing.Tenant, Row)
            {
                ["StripeCustomerId"] = billing.StripeCustomerId,
                ["LagoExternalSubscriptionId"] = billing.LagoExternalSubscriptionId,
                ["OpenMeterSubject"] = billing.OpenMeterSubject,
            },
            TableUpdateMode.Replace,
            cancellationToken);
    }
}
