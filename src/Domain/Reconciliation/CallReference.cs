using Keybrake.Domain.Audit;
using Keybrake.Domain.Common;

namespace Keybrake.Domain.Reconciliation;

/// <summary>
/// The tag a money-moving call carries to the vendor so it can be found if its answer is lost: derived
/// from the key and the agent's Idempotency-Key (so retries carry the same tag), else from the audit id.
/// </summary>
public static class CallReference
{
    public static string For(string keyId, string? idempotencyKey, string auditId) =>
        string.IsNullOrEmpty(idempotencyKey) ? "kb" + auditId : "kb" + RandomTokens.Sha256Hex(keyId + "|" + idempotencyKey)[..32];

    public static string For(AuditEntry row) => For(row.KeyId, row.IdempotencyKey, row.Id);
}
