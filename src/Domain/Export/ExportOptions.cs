namespace Keybrake.Domain.Export;

/// <summary>
/// Configuration section <c>Export</c>: where the chargeback export sends each tenant's daily net spend.
/// </summary>
public sealed class ExportOptions
{
    public const string None = "none";

    /// <summary><c>stripe_meters</c>, <c>lago</c>, <c>openmeter</c> or <c>none</c> (nothing is exported).</summary>
    public string Target { get; set; } = None;

    /// <summary>The meter's API base URL; unset means the real service (see <see cref="MeterFormat.DefaultBaseUrl"/>).</summary>
    public Uri? BaseUrl { get; set; }

    /// <summary>Stripe's <c>event_name</c>, Lago's billable metric <c>code</c>, OpenMeter's CloudEvents <c>type</c>.</summary>
    public string EventName { get; set; } = "keybrake_spend";

    /// <summary>How long one request to the meter may take.</summary>
    public int TimeoutSeconds { get; set; } = 30;
}
