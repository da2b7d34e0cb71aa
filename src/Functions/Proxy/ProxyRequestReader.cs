using System.Buffers;
using Keybrake.Domain.Common;
using Keybrake.Domain.Proxy;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Keybrake.Functions.Proxy;

/// <summary>The agent's request as the proxy reads it: the raw path (before any decoding), the bounded body, the call.</summary>
public static class ProxyRequestReader
{
    public const int MaxRequestBodyBytes = 1024 * 1024;

    /// <summary>The call the gate authorised, with the body read (at most <see cref="MaxRequestBodyBytes"/>).</summary>
    public static async Task<ProxyCall> ReadCallAsync(HttpRequest request, AuthorizedCall authorized, CancellationToken cancellationToken)
    {
        ReadOnlyMemory<byte> body = await ReadBodyAsync(request, cancellationToken);
        return new ProxyCall(authorized.Vendor.Name, authorized.Method, authorized.Segments, authorized.Operation, request.ContentType, body,
            request.Headers["Idempotency-Key"], request.QueryString.Value,
            request.Headers.ContentEncoding.Count == 0 ? null : request.Headers.ContentEncoding.ToString());
    }

    /// <summary>The path after <c>/proxy/{vendor}</c> exactly as the client sent it, before any decoding.</summary>
    public static string RawVendorPath(HttpContext context, string vendorName)
    {
        // Only origin-form targets: for any other form the server has already decoded and cleaned the path,
        // which would hide exactly what the checks below must see.
        string raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget is { Length: > 0 } target
            ? target
            : context.Request.PathBase.ToUriComponent() + context.Request.Path.ToUriComponent();
        if (!raw.StartsWith('/'))
        {
            throw new KeybrakeException(ErrorKind.Validation, "invalid_path", "Send the request path in origin form (/proxy/{vendor}/…).");
        }

        int query = raw.IndexOf('?', StringComparison.Ordinal);
        string path = query < 0 ? raw : raw[..query];
        string prefix = "/proxy/" + vendorName;
        return path.StartsWith(prefix + "/", StringComparison.OrdinalIgnoreCase) ? path[prefix.Length..]
            : path.Equals(prefix, StringComparison.OrdinalIgnoreCase) ? string.Empty
            : throw new KeybrakeException(ErrorKind.Validation, "invalid_path", "The path must be /proxy/{vendor}/{vendor path}, without encoding in the prefix.");
    }

    /// <summary>A path fit for an audit row even when it was refused: normalised if possible, else cut and marked.</summary>
    public static string SafePath(HttpContext context, string vendorName)
    {
        try
        {
            return PathNormalizer.Encode(PathNormalizer.Normalize(RawVendorPath(context, vendorName)));
        }
        catch (KeybrakeException)
        {
            return "(invalid path)";
        }
    }

    private static async Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength > MaxRequestBodyBytes)
        {
            throw TooLarge();
        }

        if (request.ContentLength is long declared)
        {
            // The common case: read straight into an array of the declared size, no growing copies.
            byte[] exact = new byte[declared];
            int filled = 0;
            int read;
            while (filled < exact.Length && (read = await request.Body.ReadAsync(exact.AsMemory(filled), cancellationToken)) > 0)
            {
                filled += read;
            }

            byte[] probe = ArrayPool<byte>.Shared.Rent(1);
            try
            {
                // A body longer than declared is refused like a large one; the server normally stops it first.
                if (filled == exact.Length && await request.Body.ReadAsync(probe.AsMemory(0, 1), cancellationToken) > 0)
                {
                    throw TooLarge();
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(probe);
            }

            return exact.AsMemory(0, filled);
        }

        using var body = new MemoryStream();
        byte[] chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int read;
            while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                body.Write(chunk, 0, read);
                if (body.Length > MaxRequestBodyBytes)
                {
                    throw TooLarge();
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        return body.GetBuffer().AsMemory(0, (int)body.Length);
    }

    private static KeybrakeException TooLarge() =>
        new(ErrorKind.PayloadTooLarge, "request_too_large", $"Request bodies through Keybrake are limited to {MaxRequestBodyBytes / 1024} KB.");
}
