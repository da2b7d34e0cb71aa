using System.Globalization;

namespace Keybrake.Domain.Export;

/// <summary>
/// One outbox row: an event for one tenant-day in one meter. Everything the meter receives (id, customer,
/// event name, value, timestamp) is fixed when the row is recorded, so every retry sends the same event.
/// Sequence 0 is the day's own event, dated the day; later sequences are adjustments (a credit when
/// negative) dated when they were recorded, for a day whose net changed after it was exported.
/// </summary>
public sealed record ExportRecord
{
    public required string Tenant { get; init; }

    public required DateOnly Day { get; init; }

    /// <summary>The <see cref="ExportOptions.Target"/> the event is for.</summary>
    public required string Target { get; init; }

    public required int Sequence { get; init; }

    /// <summary>Stripe's <c>identifier</c>, Lago's <c>transaction_id</c>, OpenMeter's CloudEvents <c>id</c>.</summary>
    public string EventId => Sequence == 0 ? $"{Tenant}-{DayText}" : $"{Tenant}-{DayText}-adj-{Sequence.ToString(CultureInfo.InvariantCulture)}";

    public string Kind => Sequence == 0 ? ExportKinds.Day : ExportKinds.Adjustment;

    /// <summary>The tenant's billing customer in this meter (Stripe customer, Lago subscription, OpenMeter subject).</summary>
    public required string Customer { get; init; }

    public required string EventName { get; init; }

    /// <summary>Whole US cents; negative for a credit.</summary>
    public required long ValueCents { get; init; }

    /// <summary>The day's net spend in micro-dollars when this row was recorded (for operators; not sent).</summary>
    public required long NetMicros { get; init; }

    public required DateTimeOffset Timestamp { get; init; }

    public required string Status { get; init; }

    public int Attempts { get; init; }

    public DateTimeOffset NextAttemptAt { get; init; }

    /// <summary>The meter's last refusal or failure (status and error code, never a body or a secret).</summary>
    public string? LastError { get; init; }

    public required DateTimeOffset RecordedAt { get; init; }

    public DateTimeOffset? SentAt { get; init; }

    /// <summary>True when the meter answered that it already had the event (a resend after a lost answer).</summary>
    public bool Duplicate { get; init; }

    /// <summary>The store's concurrency token for conditional updates (an ETag).</summary>
    public string? Version { get; init; }

    public string DayText => Day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
}

public static class ExportStatus
{
    public const string Pending = "pending";
    public const string Sent = "sent";

    /// <summary>A sub-cent day: recorded, never sent.</summary>
    public const string Skipped = "skipped";

    /// <summary>The meter refused the event for good (a 4xx other than a duplicate or a rate limit).</summary>
    public const string Rejected = "rejected";

    /// <summary>
    /// Retries stopped before the meter's duplicate window could end: an attempt may have landed without its answer,
    /// and a resend after the window would count twice. An operator checks the meter and decides.
    /// </summary>
    public const string Held = "held";
}

public static class ExportKinds
{
    public const string Day = "day";
    public const string Adjustment = "adjustment";
}

/// <summary>The durable outbox of meter events.</summary>
public interface IExportOutbox
{
    /// <summary>The rows of a tenant-day, in sequence order; all targets when <paramref name="target"/> is null.</summary>
    Task<IReadOnlyList<ExportRecord>> ListAsync(string tenant, DateOnly day, string? target, CancellationToken cancellationToken);

    /// <summary>Records a new row; false when a row with its tenant, day, target and sequence exists already.</summary>
    Task<bool> TryAddAsync(ExportRecord record, CancellationToken cancellationToken);

    /// <summary>Pending rows of <paramref name="target"/> whose next attempt is due, oldest first.</summary>
    Task<IReadOnlyList<ExportRecord>> DueAsync(string target, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the row's delivery state if it is still at <see cref="ExportRecord.Version"/>; false when
    /// another run changed it first. The event's content never changes.
    /// </summary>
    Task<bool> UpdateDeliveryAsync(ExportRecord record, CancellationToken cancellationToken);

    /// <summary>Deletes the row if it is still at <see cref="ExportRecord.Version"/> (or gone already); false when it changed.</summary>
    Task<bool> DeleteAsync(ExportRecord record, CancellationToken cancellationToken);

    /// <summary>
    /// Gives every pending row of the tenant-day the due entry <see cref="DueAsync"/> finds it by (rows an older version
    /// wrote before the due index have none); returns how many pending rows it saw. Idempotent: an entry is keyed by the
    /// row's next attempt, and one left behind by a row that changes meanwhile is stale, which the send run drops.
    /// </summary>
    Task<int> IndexPendingAsync(string tenant, DateOnly day, CancellationToken cancellationToken);
}
