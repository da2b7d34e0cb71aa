using System.Net.Http.Headers;
using Microsoft.AspNetCore.Http;

namespace Keybrake.Functions.Proxy;

/// <summary>
/// Which headers cross the proxy. Upstream: only the vendor's allow list, minus any header the client named
/// in <c>Connection</c> (hop-by-hop by declaration). Downstream: everything but credentials, cookies, client
/// addresses, platform and hop-by-hop headers. CR/LF in a value drops the header either way.
/// </summary>
public static class ForwardedHeaders
{
    private static readonly HashSet<string> NeverForwarded = new(StringComparer.OrdinalIgnoreCase)
    {
        "Host", "Authorization", "Cookie", "Set-Cookie", "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization",
        "Proxy-Authenticate", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Expect", "Content-Length", "Max-Forwards",
        "Forwarded", "X-Real-IP", "Client-IP", "X-Client-IP", "Disguised-Host", "X-Site-Deployment-Id", "X-Waws-Unencoded-Url",
        "X-AppService-Proto", "x-functions-key", "Alt-Svc", "Strict-Transport-Security",
    };

    private static readonly string[] NeverForwardedPrefixes = ["X-Forwarded-", "X-Original-", "X-ARR-", "X-MS-", "X-Keybrake-"];

    private static readonly HashSet<string> ContentHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Content-Type", "Content-Encoding", "Content-Language", "Content-MD5", "Content-Disposition", "Content-Range", "Content-Location",
    };

    public static bool IsForwarded(string name) =>
        !NeverForwarded.Contains(name) && !NeverForwardedPrefixes.Any(p => name.StartsWith(p, StringComparison.OrdinalIgnoreCase));

    public static void CopyToUpstream(IHeaderDictionary from, HttpRequestMessage to, IReadOnlySet<string> allowed)
    {
        Microsoft.Extensions.Primitives.StringValues connection = from.Connection;
        HashSet<string>? connectionTokens = connection.Count == 0 ? null : ConnectionTokens(connection);
        foreach ((string name, Microsoft.Extensions.Primitives.StringValues values) in from)
        {
            // The deny list stays as a second guard: an allow list edited carelessly still cannot forward a credential.
            if (!allowed.Contains(name) || !IsForwarded(name) || connectionTokens?.Contains(name) == true || HasLineBreak(values))
            {
                continue;
            }

            if (ContentHeaders.Contains(name))
            {
                to.Content?.Headers.TryAddWithoutValidation(name, (IEnumerable<string>)values!);
            }
            else
            {
                to.Headers.TryAddWithoutValidation(name, (IEnumerable<string>)values!);
            }
        }
    }

    public static void CopyToResponse(HttpResponseMessage from, HttpResponse to, SecretScrubber scrubber)
    {
        HashSet<string>? connectionTokens = from.Headers.Connection.Count == 0 ? null : from.Headers.Connection.ToHashSet(StringComparer.OrdinalIgnoreCase);
        Copy(from.Headers, to, connectionTokens, scrubber);
        Copy(from.Content.Headers, to, connectionTokens, scrubber);
        if (from.Content.Headers.ContentLength is long length)
        {
            to.ContentLength = length;
        }
    }

    private static void Copy(HttpHeaders headers, HttpResponse to, HashSet<string>? connectionTokens, SecretScrubber scrubber)
    {
        // The non-validated view hands out values as stored: no parsing and no enumerator objects per header.
        foreach (KeyValuePair<string, HeaderStringValues> header in headers.NonValidated)
        {
            if (!IsForwarded(header.Key) || connectionTokens?.Contains(header.Key) == true)
            {
                continue;
            }

            Microsoft.Extensions.Primitives.StringValues values = header.Value.Count == 1
                ? scrubber.Scrub(header.Value.ToString())
                : header.Value.Select(scrubber.Scrub).ToArray();
            if (!HasLineBreak(values))
            {
                to.Headers[header.Key] = values;
            }
        }
    }

    private static HashSet<string> ConnectionTokens(Microsoft.Extensions.Primitives.StringValues connection) =>
        connection.SelectMany(v => (v ?? string.Empty).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            .ToHashSet(StringComparer.OrdinalIgnoreCase);

    private static bool HasLineBreak(Microsoft.Extensions.Primitives.StringValues values)
    {
        foreach (string? value in values)
        {
            if (value is not null && value.AsSpan().IndexOfAny('\r', '\n') >= 0)
            {
                return true;
            }
        }

        return false;
    }
}
