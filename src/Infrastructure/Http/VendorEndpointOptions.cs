namespace Keybrake.Infrastructure.Http;

/// <summary>Configuration <c>Vendors__{vendor}__…</c>: where a vendor lives and how long to wait for it.</summary>
public sealed class VendorEndpointOptions
{
    public Uri? BaseUrl { get; set; }

    public int TimeoutSeconds { get; set; } = 30;
}
