namespace Keybrake.Domain.Alerts;

/// <summary>
/// Something operators must hear about. The id is derived from what fired (kind, subject, period), so
/// recording the same alert twice, from any instance, keeps one record.
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
    public const string LoopDetected = "loop_detected";
}

public interface IAlertStore
{
    /// <summary>Records the alert unless one with its id exists; true when this call created it.</summary>
    Task<bool> RecordAsync(Alert alert, CancellationToken cancellationToken);

    Task<IReadOnlyList<Alert>> ListAsync(string tenant, DateTimeOffset since, CancellationToken cancellationToken);
}
