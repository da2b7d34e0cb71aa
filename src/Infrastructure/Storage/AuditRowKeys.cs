using Keybrake.Domain.Common;

namespace Keybrake.Infrastructure.Storage;

/// <summary>
/// Row keys of the rows a reservation writes next to the audit rows in a tenant-day partition. The <c>~</c> prefix
/// sorts them after every audit row id, so audit queries skip them with a range filter.
/// </summary>
public static class AuditRowKeys
{
    /// <summary>The marker row of one key's Idempotency-Key: hashed, so any key the vendor accepts fits a RowKey.</summary>
    public static string Idempotency(string keyId, string idempotencyKey) =>
        "~idem|" + keyId + "|" + RandomTokens.Sha256Hex(idempotencyKey)[..40];

    /// <summary>The loop breaker's window row of one key and call fingerprint.</summary>
    public static string LoopWindow(string keyId, string fingerprint) => "~loop|" + keyId + "|" + fingerprint;
}
