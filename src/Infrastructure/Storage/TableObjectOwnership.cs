using Azure;
using Azure.Data.Tables;
using Keybrake.Domain.Proxy;

namespace Keybrake.Infrastructure.Storage;

/// <summary>
/// Owners of vendor objects in table <c>{prefix}owners</c>: PartitionKey <c>{vendor}|{object id}</c>, RowKey
/// empty, so a look-up is one point read and rows of different objects never contend. Object ids reach
/// here only when <see cref="ObjectScope.IsPlainId"/> holds, so they are valid keys as they are.
/// </summary>
public sealed class TableObjectOwnership(KeybrakeTables tables) : IObjectOwnershipStore
{
    public async Task<string?> OwnerAsync(string vendor, string objectId, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Owners, cancellationToken);
        NullableResponse<TableEntity> row = await table.GetEntityIfExistsAsync<TableEntity>(Partition(vendor, objectId), string.Empty, ["Tenant"], cancellationToken);
        return row.HasValue ? row.Value!.GetString("Tenant") : null;
    }

    public async Task RecordAsync(string vendor, IReadOnlyList<string> objectIds, string tenant, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Owners, cancellationToken);
        foreach (string id in objectIds.Where(ObjectScope.IsPlainId).Distinct(StringComparer.Ordinal))
        {
            try
            {
                // Add, never upsert: an owner is written once and never moved to another tenant.
                await table.AddEntityAsync(new TableEntity(Partition(vendor, id), string.Empty) { ["Tenant"] = tenant }, cancellationToken);
            }
            catch (RequestFailedException e) when (e.Status == 409)
            {
                // Already recorded (a retried create the vendor replayed): the first owner stands.
            }
        }
    }

    private static string Partition(string vendor, string objectId) => vendor + "|" + objectId;
}
