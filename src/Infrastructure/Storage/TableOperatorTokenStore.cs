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
            },
            cancellationToken);
    }

    public async Task<OperatorToken?> GetAsync(string id, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Tokens, cancellationToken);
        NullableResponse<TableEntity> response = await table.GetEntityIfExistsAsync<TableEntity>(id, string.Empty, cancellationToken: cancellationToken);
        if (!response.HasValue)
        {
            return null;
        }

        TableEntity e = response.Value!;
        return new OperatorToken
        {
            Id = id,
            Tenant = e.GetString("Tenant"),
            TokenHash = e.GetString("TokenHash"),
            CreatedAt = e.GetDateTimeOffset("CreatedAt") ?? DateTimeOffset.MinValue,
            ExpiresAt = e.GetDateTimeOffset("ExpiresAt"),
            Description = e.GetString("Description"),
        };
    }
}
