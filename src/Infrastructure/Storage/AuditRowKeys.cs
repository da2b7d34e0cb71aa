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

    // A tenant-day's unfinished business sorts under "~j" and nothing else does: the unsettled index ("~jopen|") and the
    // journal ("~journal|") are one range, so the reconciler reads both in one request, and no settled row.
    public const string OpenFrom = "~j";
    public const string OpenTo = "~k";

    /// <summary>Journal entries: moves of counters outside the row's partition still owed.</summary>
    public const string JournalPrefix = "~journal|";

    /// <summary>The unsettled index: a copy of each row not final yet (in doubt, or forwarded at an estimated cost).</summary>
    public const string UnsettledPrefix = "~jopen|";

    /// <summary>The index entry of one audit row, written and removed in the transactions that write the row.</summary>
    public static string Unsettled(string auditId) => UnsettledPrefix + auditId;
}
