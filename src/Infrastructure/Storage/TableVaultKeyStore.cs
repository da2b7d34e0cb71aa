using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using Keybrake.Domain.Common;
using Keybrake.Domain.Keys;

namespace Keybrake.Infrastructure.Storage;

/// <summary>
/// Vault keys in table <c>{prefix}keys</c>: PartitionKey = tenant, RowKey = the key id's random part,
/// so the proxy finds a key with one point read and a tenant's keys are one partition. Every tenant with
/// keys is registered in the <see cref="TableTenantDirectory"/>, which lists tenants.
/// </summary>
public sealed class TableVaultKeyStore(KeybrakeTables tables, TableTenantDirectory directory) : IVaultKeyStore
{
    public async Task CreateAsync(VaultKey key, CancellationToken cancellationToken)
    {
        // Registered before the key is written, so no key exists for a tenant the timers and root queries cannot see.
        await directory.RegisterAsync(key.Tenant, cancellationToken);

        TableClient table = await tables.GetAsync(KeybrakeTables.Keys, cancellationToken);
        await table.AddEntityAsync(ToEntity(key), cancellationToken);
    }

    public async Task<VaultKey?> GetAsync(string id, CancellationToken cancellationToken)
    {
        if (!VaultKeySecret.TrySplitId(id, out string tenant, out string row))
        {
            return null;
        }

        TableClient table = await tables.GetAsync(KeybrakeTables.Keys, cancellationToken);
        NullableResponse<TableEntity> response = await table.GetEntityIfExistsAsync<TableEntity>(tenant, row, cancellationToken: cancellationToken);
        return response.HasValue ? FromEntity(response.Value!) : null;
    }

    public async Task<KeyPage> ListAsync(KeyQuery query, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Keys, cancellationToken);
        string filter = BuildFilter(query, query.Status);
        try
        {
            await foreach (Page<TableEntity> page in table
                .QueryAsync<TableEntity>(filter, maxPerPage: query.Limit, cancellationToken: cancellationToken)
                .AsPages(Cursor.Decode(query.Cursor), query.Limit))
            {
                return new KeyPage(page.Values.Select(FromEntity).ToList(), Cursor.Encode(page.ContinuationToken));
            }
        }
        catch (RequestFailedException e) when (e.Status == 400 && query.Cursor is not null)
        {
            throw KeybrakeException.Invalid("cursor", "is not a cursor this API returned.");
        }

        return new KeyPage([], null);
    }

    public async Task<bool> RevokeAsync(string id, DateTimeOffset at, string revokedBy, CancellationToken cancellationToken)
    {
        if (!VaultKeySecret.TrySplitId(id, out string tenant, out string row))
        {
            return false;
        }

        TableClient table = await tables.GetAsync(KeybrakeTables.Keys, cancellationToken);
        NullableResponse<TableEntity> current = await table.GetEntityIfExistsAsync<TableEntity>(tenant, row, cancellationToken: cancellationToken);
        if (!current.HasValue)
        {
            return false;
        }

        if (current.Value!.GetBoolean("Revoked") != true)
        {
            // Revocation is monotonic, so a concurrent writer can only have revoked it too: no ETag needed.
            await table.UpdateEntityAsync(RevocationPatch(tenant, row, at, revokedBy), ETag.All, TableUpdateMode.Merge, cancellationToken);
        }

        return true;
    }

    public Task<IReadOnlyList<string>> TenantsAsync(CancellationToken cancellationToken) => directory.TenantsAsync(cancellationToken);

    public async Task<int> RevokeMatchingAsync(KeyQuery query, DateTimeOffset at, string revokedBy, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Keys, cancellationToken);
        string filter = BuildFilter(query, status: null) + " and Revoked eq false";
        int revoked = 0;
        var batch = new List<TableTransactionAction>();
        string? batchPartition = null;
        await foreach (TableEntity entity in table.QueryAsync<TableEntity>(filter, select: ["PartitionKey", "RowKey"], cancellationToken: cancellationToken))
        {
            if (batch.Count == 100 || (batchPartition is not null && batchPartition != entity.PartitionKey))
            {
                revoked += await SubmitAsync(table, batch, cancellationToken);
                batch.Clear();
            }

            batchPartition = entity.PartitionKey;
            batch.Add(new TableTransactionAction(TableTransactionActionType.UpdateMerge, RevocationPatch(entity.PartitionKey, entity.RowKey, at, revokedBy), ETag.All));
        }

        return revoked + await SubmitAsync(table, batch, cancellationToken);
    }

    private static async Task<int> SubmitAsync(TableClient table, List<TableTransactionAction> batch, CancellationToken cancellationToken)
    {
        if (batch.Count == 0)
        {
            return 0;
        }

        await table.SubmitTransactionAsync(batch, cancellationToken);
        return batch.Count;
    }

    private static TableEntity RevocationPatch(string tenant, string row, DateTimeOffset at, string revokedBy) =>
        new(tenant, row) { ["Revoked"] = true, ["RevokedAt"] = at, ["RevokedBy"] = revokedBy };

    private static string BuildFilter(KeyQuery query, VaultKeyStatus? status)
    {
        var clauses = new List<string>();
        if (query.Tenant is not null)
        {
            clauses.Add(TableClient.CreateQueryFilter($"PartitionKey eq {query.Tenant}"));
        }
        else if (query.TenantPrefix.Length > 0)
        {
            clauses.Add(TableClient.CreateQueryFilter($"PartitionKey ge {query.TenantPrefix} and PartitionKey lt {TableFilters.UpperBound(query.TenantPrefix)}"));
        }

        if (query.LabelPrefix.Length > 0)
        {
            clauses.Add(TableClient.CreateQueryFilter($"Label ge {query.LabelPrefix} and Label lt {TableFilters.UpperBound(query.LabelPrefix)}"));
        }

        if (query.Vendor is not null)
        {
            clauses.Add(TableClient.CreateQueryFilter($"Vendor eq {query.Vendor}"));
        }

        clauses.Add(status switch
        {
            VaultKeyStatus.Active => TableClient.CreateQueryFilter($"Revoked eq false and ExpiresAt gt {query.Now}"),
            VaultKeyStatus.Revoked => "Revoked eq true",
            VaultKeyStatus.Expired => TableClient.CreateQueryFilter($"Revoked eq false and ExpiresAt le {query.Now}"),
            _ => "RowKey ne ''",
        });
        return string.Join(" and ", clauses.Select(c => "(" + c + ")"));
    }

    private static TableEntity ToEntity(VaultKey key)
    {
        VaultKeySecret.TrySplitId(key.Id, out string tenant, out string row);
        return new TableEntity(tenant, row)
        {
            ["Label"] = key.Label,
            ["Vendor"] = key.Vendor,
            ["DailyCapMicros"] = key.DailyCapMicros,
            ["AllowedEndpoints"] = JsonSerializer.Serialize(key.AllowedEndpoints),
            ["CreatedAt"] = key.CreatedAt,
            ["ExpiresAt"] = key.ExpiresAt,
            ["Revoked"] = key.RevokedAt is not null,
            ["RevokedAt"] = key.RevokedAt,
            ["SecretHash"] = key.SecretHash,
            ["Metadata"] = JsonSerializer.Serialize(key.Metadata),
            ["CapSource"] = key.CapSource,
            ["LoopMaxCalls"] = key.Loop?.MaxCalls,
            ["LoopWindowSeconds"] = key.Loop?.WindowSeconds,
            ["VendorAccount"] = key.VendorAccount,
            ["IssuedBy"] = key.IssuedBy,
            ["RevokedBy"] = key.RevokedBy,
        };
    }

    internal static VaultKey FromEntity(TableEntity e) => new()
    {
        Id = VaultKeySecret.IdPrefix + e.PartitionKey + "_" + e.RowKey,
        Tenant = e.PartitionKey,
        Label = e.GetString("Label"),
        Vendor = e.GetString("Vendor"),
        DailyCapMicros = e.GetInt64("DailyCapMicros") ?? 0,
        AllowedEndpoints = JsonSerializer.Deserialize<List<string>>(e.GetString("AllowedEndpoints") ?? "[]") ?? [],
        CreatedAt = e.GetDateTimeOffset("CreatedAt") ?? DateTimeOffset.MinValue,
        ExpiresAt = e.GetDateTimeOffset("ExpiresAt") ?? DateTimeOffset.MinValue,
        RevokedAt = e.GetBoolean("Revoked") == true ? e.GetDateTimeOffset("RevokedAt") : null,
        SecretHash = e.GetString("SecretHash"),
        Metadata = JsonSerializer.Deserialize<Dictionary<string, string>>(e.GetString("Metadata") ?? "{}") ?? [],
        CapSource = e.GetString("CapSource") ?? "request",
        Loop = e.GetInt32("LoopMaxCalls") is int max && e.GetInt32("LoopWindowSeconds") is int window ? new LoopLimit(max, window) : null,
        VendorAccount = e.GetString("VendorAccount"),
        IssuedBy = e.GetString("IssuedBy"),
        RevokedBy = e.GetBoolean("Revoked") == true ? e.GetString("RevokedBy") : null,
    };
}
