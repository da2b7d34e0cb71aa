using Azure;
using Azure.Data.Tables;
using Keybrake.Domain.Operators;

namespace Keybrake.Infrastructure.Storage;

/// <summary>Tenant operator tokens in table <c>{prefix}tokens</c>: PartitionKey = token id, hash only.</summary>
public sealed class TableOperatorTokenStore(KeybrakeTables tables) : IOperatorTokenStore
{
    public async Task CreateAsync(OperatorToken token, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Tokens, cancellationToken);
        await table.AddEntityAsync(
            new TableEntity(token.Id, string.Empty)
            {
                ["Tenant"] = token.Tenant,
                ["TokenHash"] = token.TokenHash,
                ["CreatedAt"] = token.CreatedAt,
                ["ExpiresAt"] = token.ExpiresAt,
                ["Description"] = token.Description,
                ["IssuedBy"] = token.IssuedBy,
            },
            cancellationToken);
    }

    public async Task<OperatorToken?> GetAsync(string id, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Tokens, cancellationToken);
        NullableResponse<TableEntity> response = await table.GetEntityIfExistsAsync<TableEntity>(id, string.Empty, cancellationToken: cancellationToken);
        return response.HasValue ? FromEntity(response.Value!) : null;
    }

    public async Task<IReadOnlyList<OperatorToken>> ListAsync(CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Tokens, cancellationToken);
        var tokens = new List<OperatorToken>();
        await foreach (TableEntity e in table.QueryAsync<TableEntity>(cancellationToken: cancellationToken))
        {
            tokens.Add(FromEntity(e));
        }

        return tokens;
    }

    public async Task<bool> RevokeAsync(string id, DateTimeOffset at, string revokedBy, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Tokens, cancellationToken);
        try
        {
            // A merge guarded by the row existing (If-Match *), so revoking a missing id cannot create a row.
            await table.UpdateEntityAsync(
                new TableEntity(id, string.Empty) { ["RevokedAt"] = at, ["RevokedBy"] = revokedBy }, ETag.All, TableUpdateMode.Merge, cancellationToken);
            return true;
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return false;
        }
    }

    private static OperatorToken FromEntity(TableEntity e) => new()
    {
        Id = e.PartitionKey,
        Tenant = e.GetString("Tenant"),
        TokenHash = e.GetString("TokenHash"),
        CreatedAt = e.GetDateTimeOffset("CreatedAt") ?? DateTimeOffset.MinValue,
        ExpiresAt = e.GetDateTimeOffset("ExpiresAt"),
        Description = e.GetString("Description"),
        RevokedAt = e.GetDateTimeOffset("RevokedAt"),
        IssuedBy = e.GetString("IssuedBy"),
        RevokedBy = e.GetString("RevokedBy"),
    };
}
