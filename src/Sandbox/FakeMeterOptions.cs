namespace Keybrake.Sandbox;

/// <summary>Options of <see cref="FakeLago"/>.</summary>
public sealed class FakeLagoOptions : FakeVendorOptions
{
    /// <summary>The API key the fake accepts; default a random UUID.</summary>
    public string? ApiKey { get; init; }
}

/// <summary>Options of <see cref="FakeOpenMeter"/>.</summary>
public sealed class FakeOpenMeterOptions : FakeVendorOptions
{
    /// <summary>The API token the fake accepts; default "om_" + 32 random characters.</summary>
    public string? ApiKey { get; init; }
}
