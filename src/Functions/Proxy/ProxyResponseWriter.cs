using System.Buffers;
using System.Diagnostics;
using Keybrake.Domain.Common;
using Keybrake.Domain.Vendors;
using Microsoft.AspNetCore.Http;

namespace Keybrake.Functions.Proxy;

/// <summary>
/// The vendor's answer read for pricing (a bounded head, pooled) and written back to the agent: status, allowed
/// headers, Keybrake's own headers and the body, scrubbed of credentials; or a refusal in the vendor's error shape.
/// </summary>
public static class ProxyResponseWriter
{
    public const int MaxParsedResponseBytes = 1024 * 1024;

    /// <summary>The answer's first bytes, up to <paramref name="limit"/> (+1 to tell a whole answer from a cut one), in a pooled buffer.</summary>
    public static async Task<UpstreamHead> ReadHeadAsync(Stream source, int limit, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(limit + 1);
        try
        {
            int total = 0;
            while (total <= limit)
            {
                int read = await source.ReadAsync(buffer.AsMemory(total, limit + 1 - total), cancellationToken);
                if (read == 0)
                {
                    return new UpstreamHead(buffer, total, Whole: true);
                }

                total += read;
            }

            return new UpstreamHead(buffer, total, Whole: false);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    /// <summary>The vendor's status and headers, Keybrake's headers, then the body: the buffered head, then the rest of the stream.</summary>
    public static async Task WriteAnswerAsync(
        HttpContext context, HttpResponseMessage response, string auditId, long costMicros, string overheadMs,
        ReadOnlyMemory<byte> head, Stream? rest, SecretScrubber scrubber, CancellationToken cancellationToken, long? contentLength = null)
    {
        HttpResponse downstream = context.Response;
        downstream.StatusCode = (int)response.StatusCode;
        ForwardedHeaders.CopyToResponse(response, downstream, scrubber);
        downstream.Headers["X-Keybrake-Audit-Id"] = auditId;
        downstream.Headers["X-Keybrake-Cost-Usd"] = Usd.Format(costMicros);
        downstream.Headers["X-Keybrake-Overhead-Ms"] = overheadMs;
        if (contentLength is long length)
        {
            // A rewritten body (a list cut to the tenant's objects) is shorter than the vendor's.
            downstream.ContentLength = length;
        }

        try
        {
            await scrubber.CopyAsync(head, rest, downstream.Body, cancellationToken);
        }
        catch (Exception e) when (e is IOException or HttpRequestException or OperationCanceledException)
        {
            // The status line is gone already: cut the connection rather than end a truncated body that looks whole.
            context.Abort();
        }
    }

    /// <summary>A refusal or failure in the vendor's own error shape, so the agent's SDK raises its usual error.</summary>
    public static Task WriteVendorErrorAsync(HttpResponse response, VendorDefinition vendor, int status, string code, string message, string? auditId)
    {
        VendorErrorBody body = vendor.Error(status, code, message);
        if (auditId is not null)
        {
            response.Headers["X-Keybrake-Audit-Id"] = auditId;
        }

        response.Headers["X-Keybrake-Cost-Usd"] = Usd.Format(0);
        return WriteAsync(response, status, body.ContentType, body.Body);
    }

    /// <summary>A vendor name the proxy does not know: no vendor shape to answer in, so the operator API's.</summary>
    public static Task WriteUnknownVendorAsync(HttpResponse response, IEnumerable<string> known)
    {
        string message = $"Unknown vendor; use one of {string.Join(", ", known.Order(StringComparer.Ordinal))}.";
        return WriteAsync(response, 404, "application/json",
            System.Text.Json.JsonSerializer.Serialize(new { error = new { code = "unknown_vendor", message } }));
    }

    /// <summary>Time in the proxy minus time waiting for the vendor, to the hundredth: the in-memory path is well under 1 ms.</summary>
    public static string OverheadMs(long started, long upstreamStarted, long upstreamEnded) =>
        (Stopwatch.GetElapsedTime(started) - Stopwatch.GetElapsedTime(upstreamStarted, upstreamEnded)).TotalMilliseconds
            .ToString("0.00", System.Globalization.CultureInfo.InvariantCulture);

    private static async Task WriteAsync(HttpResponse response, int status, string contentType, string body)
    {
        response.StatusCode = status;
        response.ContentType = contentType;
        await response.WriteAsync(body);
    }
}

/// <summary>The buffered start of a vendor answer (pooled: dispose returns it).</summary>
public readonly record struct UpstreamHead(byte[]? Buffer, int Count, bool Whole) : IDisposable
{
    public static UpstreamHead None => new(null, 0, Whole: false);

    public ReadOnlyMemory<byte> Bytes => Buffer is null ? ReadOnlyMemory<byte>.Empty : Buffer.AsMemory(0, Count);

    /// <summary>The whole answer when it fit, else empty: a cost is never parsed from half a document.</summary>
    public ReadOnlySpan<byte> WholeOrEmpty => Whole ? Bytes.Span : [];

    public void Dispose()
    {
        if (Buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(Buffer);
        }
    }
}
