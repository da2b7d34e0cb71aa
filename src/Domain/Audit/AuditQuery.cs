using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Keybrake.Domain.Activity;
using Keybrake.Domain.Common;
using Keybrake.Domain.Labels;
using Keybrake.Domain.Operators;
using Keybrake.Domain.Secrets;

namespace Keybrake.Domain.Audit;

/// <summary>
/// Filters of one audit partition read: rows with RowKey in (after, before), newest first. With
/// <paramref name="SpendColumnsOnly"/> only what spend sums need is read (tenant, label, vendor, outcome, cost, fee).
/// </summary>
public sealed record AuditPartitionQuery(
    string Tenant, DateTimeOffset Day, string FromRowKey, string ToRowKey, string LabelPrefix, string? Vendor, string? Outcome, int Limit, bool SpendColumnsOnly = false);

public interface IAuditReader
{
    /// <summary>Up to <c>Limit</c> rows of one tenant-day with FromRowKey &lt; RowKey &lt; ToRowKey, newest first.</summary>
    Task<IReadOnlyList<AuditEntry>> ReadAsync(AuditPartitionQuery query, CancellationToken cancellationToken);
}

public sealed record AuditPage(IReadOnlyList<AuditEntry> Entries, string? NextCursor);

/// <summary>
/// <c>GET /v1/audit</c>: newest first across the asked tenants and days, reading only those partitions.
/// Cursors are opaque and signed (HMAC over the caller, the filters and the position), so a forged or
/// borrowed cursor is refused, never a way into other data.
/// </summary>
public sealed class AuditQueryService(IAuditReader reader, IActivityIndex activity, ISecretProvider secrets, ReportOptions options, TimeProvider time)
{
    public const int MaxLimit = 10_000;

    public async Task<AuditPage> QueryAsync(
        OperatorPrincipal caller, DateTimeOffset? since, DateTimeOffset? until, string? labelPrefix, string? vendor, string? outcome,
        int? limit, string? cursor, CancellationToken cancellationToken)
    {
        Label.ValidatePrefix(labelPrefix);
        string prefix = caller.ScopePrefix(labelPrefix);

        // The filters bind what the caller asked for, and the cursor carries the window the first page resolved
        // from it: a default "last 24 h up to now" must not slide between pages, or the next cursor is refused.
        string filters = string.Join('\n', caller.TokenId, prefix, vendor, outcome, since?.UtcTicks, until?.UtcTicks);
        Position? position = cursor is null ? null : await OpenCursorAsync(cursor, filters, cancellationToken);
        DateTimeOffset to = position?.To ?? until ?? time.GetUtcNow();
        DateTimeOffset from = position?.From ?? since ?? to.AddHours(-24);
        QueryWindow.Check(from, to);

        if (outcome is not null and not (AuditOutcome.Forwarded or AuditOutcome.Denied or AuditOutcome.Error or AuditOutcome.InDoubt))
        {
            throw KeybrakeException.Invalid("outcome", "must be one of forwarded, denied, error, in_doubt.");
        }

        int take = limit ?? 100;
        if (take is < 1 or > MaxLimit)
        {
            throw KeybrakeException.Invalid("limit", $"must be between 1 and {MaxLimit}.");
        }

        (string afterRow, string afterTenant) = position is null ? (RowKeyAt(to.AddTicks(1)) + "~", string.Empty) : (position.Row, position.Tenant);
        string lastRow = RowKeyAt(from.AddTicks(-1));

        var entries = new List<AuditEntry>();
        DateTimeOffset cursorTime = AuditEntry.TimeOfId(afterRow) ?? to;
        ILookup<DateOnly, string> activeByDay = (await ActiveInScopeAsync(
                caller, prefix, DateOnly.FromDateTime(from.UtcDateTime), DateOnly.FromDateTime(cursorTime.UtcDateTime), activity, cancellationToken))
            .ToLookup(a => a.Day, a => a.Tenant);
        for (DateTimeOffset day = cursorTime.UtcDateTime.Date; day >= from.UtcDateTime.Date && entries.Count < take; day = day.AddDays(-1))
        {
            int need = take - entries.Count;
            IReadOnlyList<AuditEntry>[] perTenant = await Bounded.SelectAsync(
                [.. activeByDay[DateOnly.FromDateTime(day.UtcDateTime)]], options.MaxStorageRequestsInFlight,
                (tenant, ct) => reader.ReadAsync(new AuditPartitionQuery(tenant, day, Predecessor(afterRow), lastRow, prefix, vendor, outcome, need + 1), ct),
                cancellationToken);
            entries.AddRange(perTenant.SelectMany(rows => rows)
                .Where(e => string.CompareOrdinal(e.Id, afterRow) > 0 || (e.Id == afterRow && string.CompareOrdinal(e.Tenant, afterTenant) > 0))
                .OrderBy(e => e.Id, StringComparer.Ordinal).ThenBy(e => e.Tenant, StringComparer.Ordinal)
                .Take(need));
        }

        bool more = entries.Count == take;
        string? next = more ? await SealCursorAsync(new Position(entries[^1].Id, entries[^1].Tenant, from, to), filters, cancellationToken) : null;
        return new AuditPage(entries, next);
    }

    /// <summary>
    /// The tenant-days a query reads: those of the caller's own tenant, or of the one its prefix names, or of every tenant the
    /// prefix can match, taken from the activity index (a tenant-day without activity has no rows to read).
    /// </summary>
    public static async Task<IReadOnlyList<TenantDay>> ActiveInScopeAsync(
        OperatorPrincipal caller, string prefix, DateOnly from, DateOnly to, IActivityIndex activity, CancellationToken cancellationToken)
    {
        if ((caller.Tenant ?? Label.TenantOfPrefix(prefix)) is string tenant)
        {
            return [.. (await activity.ActiveDaysAsync(tenant, from, to, cancellationToken)).Select(day => new TenantDay(tenant, day))];
        }

        return [.. (await activity.ActiveAsync(from, to, cancellationToken))
            .Where(a => a.Tenant.StartsWith(prefix, StringComparison.Ordinal) || prefix.StartsWith(a.Tenant, StringComparison.Ordinal))];
    }

    /// <summary>The RowKey a row written at <paramref name="at"/> starts with (inverted ticks sort newest first).</summary>
    public static string RowKeyAt(DateTimeOffset at) =>
        (DateTime.MaxValue.Ticks - at.UtcTicks).ToString("D19", CultureInfo.InvariantCulture);

    /// <summary>Just below <paramref name="rowKey"/>, so a "greater than" read includes rows equal to it (ties across tenants).</summary>
    private static string Predecessor(string rowKey) => rowKey[..^1] + (char)(rowKey[^1] - 1) + "~";

    /// <summary>Where a page ended, and the window every page of this query reads.</summary>
    private sealed record Position(string Row, string Tenant, DateTimeOffset From, DateTimeOffset To);

    private async Task<string> SealCursorAsync(Position position, string filters, CancellationToken cancellationToken)
    {
        string payload = string.Join('\n', position.Row, position.Tenant,
            position.From.UtcTicks.ToString(CultureInfo.InvariantCulture), position.To.UtcTicks.ToString(CultureInfo.InvariantCulture));
        string mac = Convert.ToHexStringLower(HMACSHA256.HashData(await CursorKeyAsync(cancellationToken), Encoding.UTF8.GetBytes(payload + "\n" + filters)));
        return Convert.ToBase64String(Encoding.UTF8.GetBytes(payload + "\n" + mac)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    private async Task<Position> OpenCursorAsync(string cursor, string filters, CancellationToken cancellationToken)
    {
        string[] parts;
        try
        {
            string padded = cursor.Replace('-', '+').Replace('_', '/');
            padded += new string('=', (4 - (padded.Length % 4)) % 4);
            parts = Encoding.UTF8.GetString(Convert.FromBase64String(padded)).Split('\n');
        }
        catch (FormatException)
        {
            throw BadCursor();
        }

        if (parts.Length != 5 || AuditEntry.TimeOfId(parts[0]) is null ||
            !long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out long fromTicks) ||
            !long.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out long toTicks) ||
            fromTicks > toTicks || toTicks > DateTimeOffset.MaxValue.UtcTicks)
        {
            throw BadCursor();
        }

        string payload = string.Join('\n', parts[..4]);
        string expected = Convert.ToHexStringLower(HMACSHA256.HashData(await CursorKeyAsync(cancellationToken), Encoding.UTF8.GetBytes(payload + "\n" + filters)));
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(expected), Encoding.UTF8.GetBytes(parts[4]))
            ? new Position(parts[0], parts[1], new DateTimeOffset(fromTicks, TimeSpan.Zero), new DateTimeOffset(toTicks, TimeSpan.Zero))
            : throw BadCursor();
    }

    private static KeybrakeException BadCursor() => KeybrakeException.Invalid("cursor", "is not a cursor this API returned for this query.");

    /// <summary>Cursor signing key, derived from the root token so every instance agrees without another secret.</summary>
    private async Task<byte[]> CursorKeyAsync(CancellationToken cancellationToken)
    {
        string root = await secrets.GetAsync(SecretNames.RootToken, null, cancellationToken)
            ?? throw new KeybrakeException(ErrorKind.Unavailable, "unavailable", "The root token is not configured.");
        return HMACSHA256.HashData(Encoding.UTF8.GetBytes("keybrake-audit-cursor"), Encoding.UTF8.GetBytes(root));
    }
}
