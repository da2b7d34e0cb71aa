namespace Keybrake.Domain.Keys;

/// <summary>Operator-tunable bounds on what a vault key may ask for (configuration section <c>Keys</c>).</summary>
public sealed class KeyLimits
{
    public decimal MaxDailyUsdCap { get; set; } = 10_000m;

    public int MaxAllowedEndpoints { get; set; } = 100;

    public int MaxMetadataEntries { get; set; } = 20;
}
