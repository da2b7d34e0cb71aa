using Keybrake.Domain.Common;
using Keybrake.Domain.Vendors;

namespace Keybrake.Domain.Proxy;

/// <summary>What makes two calls "the same" to the loop breaker: method, path, query and canonical body.</summary>
public static class LoopFingerprint
{
    /// <summary>40 hex digits; a form body counts the same whatever the order of its fields.</summary>
    public static string Of(ProxyCall call)
    {
        string body = call.ContentType?.StartsWith("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase) == true
            ? string.Join('&', FormBody.Parse(call.Body.Span).OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + "=" + p.Value))
            : Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(call.Body.Span));
        return RandomTokens.Sha256Hex(call.Method + " " + call.Path + call.Query + "\n" + body)[..40];
    }
}
