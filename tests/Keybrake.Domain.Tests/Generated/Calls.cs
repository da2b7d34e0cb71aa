using Keybrake.Domain.Proxy;
using Keybrake.Domain.Vendors;

namespace Keybrake.Domain.Tests.Generated;

internal static class Calls
{
    /// <summary>The call as the proxy's pipeline builds it from the request.</summary>
    public static ProxyCall From(VendorDefinition vendor, RequestShape shape)
    {
        string[] segments = shape.Path.Split('/');
        return new ProxyCall(vendor.Name, shape.Method, segments, vendor.Operation(shape.Method, segments), shape.ContentType, shape.Body, null,
            shape.Query.Length == 0 ? null : shape.Query, shape.ContentEncoding);
    }

    public static ProxyCall Form(VendorDefinition vendor, string method, string path, string? query, string? body, string? contentType = "application/x-www-form-urlencoded")
    {
        string[] segments = path.Split('/');
        return new ProxyCall(vendor.Name, method, segments, vendor.Operation(method, segments), body is null ? null : contentType,
            body is null ? ReadOnlyMemory<byte>.Empty : System.Text.Encoding.UTF8.GetBytes(body), null, query);
    }
}
