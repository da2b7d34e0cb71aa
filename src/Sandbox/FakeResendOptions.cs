namespace Keybrake.Sandbox;

/// <summary>Options of <see cref="FakeResend"/>.</summary>
public sealed class FakeResendOptions : FakeVendorOptions
{
    /// <summary>The API key the fake accepts; default "re_" + 24 random characters.</summary>
    public string? ApiKey { get; init; }
}
