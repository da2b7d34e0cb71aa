using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using Keybrake.Domain.Vendors;

namespace Keybrake.Domain.Proxy;

/// <summary>What makes two calls "the same" to the loop breaker: method, path, query and canonical body.</summary>
public static class LoopFingerprint
{
    /// <summary>
    /// 40 hex digits of SHA-256 over <c>method path+query \n body</c>, where a form body counts the same whatever the
    /// order of its fields (<c>k=v</c> sorted, joined by <c>&amp;</c>) and any other body is the base64 of its own hash.
    /// Hashed piece by piece: on every non-read call, so no joined copies of the body are built.
    /// </summary>
    public static string Of(ProxyCall call)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Append(hash, call.Method);
        Append(hash, " ");
        Append(hash, call.Path);
        Append(hash, call.Query);
        Append(hash, "\n");
        if (call.ContentType?.StartsWith("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase) == true)
        {
            Dictionary<string, string> fields = FormBody.Parse(call.Body.Span);
            string[] names = [.. fields.Keys];
            Array.Sort(names, StringComparer.Ordinal);
            for (int i = 0; i < names.Length; i++)
            {
                Append(hash, i == 0 ? string.Empty : "&");
                Append(hash, names[i]);
                Append(hash, "=");
                Append(hash, fields[names[i]]);
            }
        }
        else
        {
            Span<byte> bodyHash = stackalloc byte[32];
            SHA256.HashData(call.Body.Span, bodyHash);
            Span<char> base64 = stackalloc char[44];
            Convert.TryToBase64Chars(bodyHash, base64, out int written);
            Append(hash, base64[..written]);
        }

        Span<byte> digest = stackalloc byte[32];
        hash.GetHashAndReset(digest);
        return Convert.ToHexStringLower(digest[..20]);
    }

    private static void Append(IncrementalHash hash, ReadOnlySpan<char> text)
    {
        int max = Encoding.UTF8.GetMaxByteCount(text.Length);
        byte[]? rented = max > 512 ? ArrayPool<byte>.Shared.Rent(max) : null;
        Span<byte> buffer = rented ?? stackalloc byte[512];
        int length = Encoding.UTF8.GetBytes(text, buffer);
        hash.AppendData(buffer[..length]);
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
