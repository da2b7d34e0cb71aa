using Keybrake.Domain.Common;
using Keybrake.Domain.Keys;
using Keybrake.Domain.Secrets;

namespace Keybrake.Domain.Operators;

/// <summary>Turns a bearer token into an operator principal, or refuses it.</summary>
public sealed class OperatorAuthenticator(ISecretProvider secrets, IOperatorTokenStore tokens, TimeProvider time)
{
    public async Task<OperatorPrincipal> AuthenticateAsync(string? bearer, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(bearer))
        {
            throw KeybrakeException.Unauthorized("An operator token is required: send 'Authorization: Bearer <token>'.");
        }

        if (VaultKeySecret.LooksLikeVaultKey(bearer))
        {
            throw KeybrakeException.Unauthorized("A vault key cannot call the operator API; use an operator token.");
        }

        string presentedHash = RandomTokens.Sha256Hex(bearer);
        string? tokenId = OperatorTokenSecret.IdOf(bearer);
        if (tokenId is not null)
        {
            OperatorToken? stored = await tokens.GetAsync(tokenId, cancellationToken);
            // Read on every request, never cached: a revoked token must stop working on every instance at once.
            if (stored is not null && RandomTokens.HashEquals(stored.TokenHash, presentedHash) && stored.IsValidAt(time.GetUtcNow()))
            {
                return new OperatorPrincipal(stored.Tenant, stored.Id);
            }

            throw KeybrakeException.Unauthorized("The operator token is not valid.");
        }

        string? root = await secrets.GetAsync(SecretNames.RootToken, tenant: null, cancellationToken);
        if (!string.IsNullOrEmpty(root) && RandomTokens.HashEquals(RandomTokens.Sha256Hex(root), presentedHash))
        {
            return OperatorPrincipal.Root;
        }

        throw KeybrakeException.Unauthorized("The operator token is not valid.");
    }
}
