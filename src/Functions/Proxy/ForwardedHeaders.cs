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
        HashSet<string> connectionTokens = ConnectionTokens(from["Connection"]);
        foreach ((string name, Microsoft.Extensions.Primitives.StringValues values) in from)
        {
            // The deny list stays as a second guard: an allow list edited carelessly still cannot forward a credential.
            if (!allowed.Contains(name) || !IsForwarded(name) || connectionTokens.Contains(name) || HasLineBreak(values))
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
        HashSet<string> connectionTokens = from.Headers.Connection.ToHashSet(StringComparer.OrdinalIgnoreCase);
        Copy(from.Headers, to, connectionTokens, scrubber);
        Copy(from.Content.Headers, to, connectionTokens, scrubber);
        if (from.Content.Headers.ContentLength is long length)
        {
            to.ContentLength = length;
        }
    }

    private static void Copy(HttpHeaders headers, HttpResponse to, HashSet<string> connectionTokens, SecretScrubber scrubber)
    {
        foreach (KeyValuePair<string, IEnumerable<string>> header in headers)
        {
            string[] values = header.Value.Select(scrubber.Scrub).ToArray();
            if (IsForwarded(header.Key) && !connectionTokens.Contains(header.Key) && !HasLineBreak(values))
            {
                to.Headers[header.Key] = values;
            }
        }
    }

    private static HashSet<string> ConnectionTokens(Microsoft.Extensions.Primitives.StringValues connection) =>
        connection.SelectMany(v => (v ?? string.Empty).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            .ToHashSet(StringComparer.OrdinalIgnoreCase);

    private static bool HasLineBreak(IEnumerable<string?> values) =>
        values.Any(v => v is not null && (v.Contains('\r', StringComparison.Ordinal) || v.Contains('\n', StringComparison.Ordinal)));
}
