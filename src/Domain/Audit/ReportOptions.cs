namespace Keybrake.Domain.Audit;

/// <summary>Configuration section <c>Reports</c>.</summary>
public sealed class ReportOptions
{
    /// <summary>Storage reads one root report (spend, audit, alerts, rollups) keeps in flight at once.</summary>
    public int MaxStorageRequestsInFlight { get; set; } = 32;
}
