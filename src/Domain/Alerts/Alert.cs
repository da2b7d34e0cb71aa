namespace Keybrake.Domain.Alerts;

/// <summary>
/// Something operators must hear about. The id is derived from what fired (kind, subject, period), so
/// recording the same alert twice, from any instance, keeps one record. <see cref="Details"/> holds the
/// kind's own fields (a budget alert's prefix, period, threshold, spent and budget) as they were when it fired.
/// </summary>
public sealed record Alert(
    string Id,
    string Tenant,
    string Kind,
    string Subject,
    string Message,
    DateTimeOffset FiredAt,
    string DeliveryState = Alert.Pending)
{
    public const string Pending = "pending";
    public const string Retrying = "retrying";
    public const string Delivered = "delivered";
    public const string LoopDetected = "loop_detected";
    public const string BudgetThreshold = "budget_threshold";

    public IReadOnlyDictionary<string, object?> Details { get; init; } = new Dictionary<string, object?>();

    public int Attempts { get; init; }

    public DateTimeOffset? NextAttemptAt { get; init; }

    public DateTimeOffset? DeliveredAt { get; init; }

    public string? LastError { get; init; }

    /// <summary>The webhook body, fixed at the first delivery attempt so every retry sends (and signs) the same bytes.</summary>
    public string? Body { get; init; }

    /// <summary>The store's version of the queued delivery (an ETag), for claiming it against other instances.</summary>
    public string? Version { get; init; }
}

public interface IAlertStore
{
    /// <summary>
    /// Records the alert unless one with its id exists, and queues it for delivery; true when this call created it.
    /// Queued first, so a crash in between leaves a delivery that recreates the record, never a record nobody delivers.
    /// </summary>
    Task<bool> RecordAsync(Alert alert, CancellationToken cancellationToken);

    Task<IReadOnlyList<Alert>> ListAsync(string tenant, DateTimeOffset since, CancellationToken cancellationToken);

    /// <summary>Queued alerts whose next attempt is due.</summary>
    Task<IReadOnlyList<Alert>> DueAsync(DateTimeOffset now, int max, CancellationToken cancellationToken);

    /// <summary>
    /// Takes a due alert for one attempt until <paramref name="leaseUntil"/>, fixing its body. Null when another
    /// instance took it first, or when it was delivered already (it then leaves the queue).
    /// </summary>
    Task<Alert?> ClaimAsync(Alert due, string body, DateTimeOffset leaseUntil, CancellationToken cancellationToken);

    /// <summary>Saves a claimed attempt's outcome; a delivered alert leaves the queue, another is queued for its next attempt.</summary>
    Task SaveAttemptAsync(Alert attempt, CancellationToken cancellationToken);
}

/// <summary>Delivers an alert body to the operators' endpoint (a signed webhook).</summary>
public interface IAlertSender
{
    /// <summary>False when no endpoint is configured (alerts then wait in the queue).</summary>
    bool IsConfigured { get; }

    /// <summary>Null when the endpoint acknowledged (2xx), else why not (never throws for an unreachable endpoint).</summary>
    Task<string?> SendAsync(Alert alert, string body, CancellationToken cancellationToken);
}
