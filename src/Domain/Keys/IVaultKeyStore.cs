namespace Keybrake.Domain.Keys;

/// <summary>
/// A key listing query. <see cref="Tenant"/> pins the query to one tenant's partition; when null the
/// query spans tenants, narrowed to those whose name starts with <see cref="TenantPrefix"/>.
/// </summary>
public sealed record KeyQuery(
    string? Tenant,
    string TenantPrefix,
    string LabelPrefix,
    string? Vendor,
    VaultKeyStatus? Status,
    DateTimeOffset Now,
    int Limit,
    string? Cursor);

public sealed record KeyPage(IReadOnlyList<VaultKey> Keys, string? NextCursor);

public interface IVaultKeyStore
{
    Task CreateAsync(VaultKey key, CancellationToken cancellationToken);

    Task<VaultKey?> GetAsync(string id, CancellationToken cancellationToken);

    Task<KeyPage> ListAsync(KeyQuery query, CancellationToken cancellationToken);

    /// <summary>Marks a key revoked; false when there is no such key. Revoking twice keeps the first time.</summary>
    Task<bool> RevokeAsync(string id, DateTimeOffset at, string revokedBy, CancellationToken cancellationToken);

    /// <summary>Every tenant that has keys (for timer work that walks tenants).</summary>
    Task<IReadOnlyList<string>> TenantsAsync(CancellationToken cancellationToken);

    /// <summary>Revokes every active key matching the query's tenant and label prefix; returns how many.</summary>
    Task<int> RevokeMatchingAsync(KeyQuery query, DateTimeOffset at, string revokedBy, CancellationToken cancellationToken);
}
