using System.Globalization;
using Keybrake.Domain.Common;

namespace Keybrake.Domain.Operators;

/// <summary>
/// One write on the operator API: who (root or a token id), when, which route, what it targeted and, for
/// settings, the value before and after (as the API shows them, never a secret). Written as
/// <see cref="OperatorActionOutcome.Started"/> before the change, so a write that cannot be audited is not
/// made, then completed with its outcome.
/// </summary>
public sealed record OperatorAction
{
    public required string Id { get; init; }

    public required DateTimeOffset Timestamp { get; init; }

    /// <summary><c>root</c> or the tenant token's id.</summary>
    public required string Operator { get; init; }

    /// <summary>The tenant the action concerns (the caller's own for a tenant token); null for platform-wide settings.</summary>
    public string? Tenant { get; init; }

    public required string Method { get; init; }

    public required string Route { get; init; }

    public string? Target { get; init; }

    public int? Status { get; init; }

    public required string Outcome { get; init; }

    /// <summary>JSON of the setting before the change (null when it did not exist or is not a setting).</summary>
    public string? Before { get; init; }

    public string? After { get; init; }

    public static string NewId(DateTimeOffset at) =>
        (DateTime.MaxValue.Ticks - at.UtcTicks).ToString("D19", CultureInfo.InvariantCulture) + "_" + RandomTokens.Base32(8);
}

public static class OperatorActionOutcome
{
    public const string Started = "started";
    public const string Applied = "applied";
    public const string Refused = "refused";
    public const string Failed = "failed";
}

public interface IOperatorAuditLog
{
    /// <summary>Writes or replaces the row of <paramref name="action"/> (same id: its completion).</summary>
    Task RecordAsync(OperatorAction action, CancellationToken cancellationToken);

    /// <summary>Rows in [since, until], newest first, at most <paramref name="limit"/>; only <paramref name="tenant"/>'s when set.</summary>
    Task<IReadOnlyList<OperatorAction>> ListAsync(string? tenant, DateTimeOffset since, DateTimeOffset until, int limit, CancellationToken cancellationToken);
}

/// <summary><c>GET /v1/operator-audit</c>: root sees every row, a tenant token the rows about its tenant.</summary>
public sealed class OperatorAuditService(IOperatorAuditLog log, TimeProvider time)
{
    public const int MaxLimit = 1000;

    public Task<IReadOnlyList<OperatorAction>> QueryAsync(
        OperatorPrincipal caller, DateTimeOffset? since, DateTimeOffset? until, int? limit, CancellationToken cancellationToken)
    {
        DateTimeOffset to = until ?? time.GetUtcNow();
        DateTimeOffset from = since ?? to.AddDays(-7);
        QueryWindow.Check(from, to);

        int take = limit ?? 100;
        if (take is < 1 or > MaxLimit)
        {
            throw KeybrakeException.Invalid("limit", $"must be between 1 and {MaxLimit}.");
        }

        return log.ListAsync(caller.Tenant, from, to, take, cancellationToken);
    }
}
