using System.Buffers;
using System.Text;
using Keybrake.Domain.Vendors;

namespace Keybrake.Functions.Proxy;

/// <summary>
/// Keeps the vendor's credentials out of every answer that reaches the agent: a vendor error that echoes
/// the key it received ("Invalid API Key provided: sk_live_…"), a debug header, anything. Each occurrence is
/// overwritten with '*' of the same length, so Content-Length and the JSON around it stay valid. Bodies are
/// scrubbed as they stream: a tail of (longest secret − 1) bytes is held back between reads so an
/// occurrence split across two reads is still found. Answers are requested uncompressed (Accept-Encoding is
/// never forwarded), which is what makes the bytes searchable.
/// </summary>
public sealed class SecretScrubber
{
    /// <summary>
    /// Shorter values are not scrubbed: overwriting every "abc" would corrupt answers, and a real vendor
    /// credential is far longer. (A configured secret this short is a configuration error of its own.)
    /// </summary>
    public const int MinSecretLength = 8;

    private const byte Mask = (byte)'*';

    // The last patterns built per vendor: the credentials are the same call after call (the secret provider caches
    // them), so their texts and bytes are built again only when one changes. One entry per vendor, so bounded.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Patterns> LastPatterns = new(StringComparer.Ordinal);

    private readonly byte[][] _secrets;
    private readonly string[] _secretTexts;

    private SecretScrubber(Patterns patterns)
    {
        _secretTexts = patterns.Texts;
        _secrets = patterns.Bytes;
    }

    /// <summary>How many occurrences were overwritten so far (for the log line; never the values).</summary>
    public int Count { get; private set; }

    /// <summary>
    /// The vendor's credential values, and the credential part of the Authorization header the proxy sent
    /// (Twilio's is base64 of "sid:token", which an echo would show instead of the token itself).
    /// </summary>
    public static SecretScrubber For(VendorDefinition vendor, IReadOnlyDictionary<string, string> secrets, string? upstreamAuthorization)
    {
        ReadOnlySpan<char> credential = upstreamAuthorization is null ? default
            : upstreamAuthorization.IndexOf(' ', StringComparison.Ordinal) is int space and >= 0 ? upstreamAuthorization.AsSpan(space + 1)
            : upstreamAuthorization;
        if (LastPatterns.TryGetValue(vendor.Name, out Patterns? last) && last.BuiltFrom(vendor, secrets, credential, upstreamAuthorization is not null))
        {
            return new SecretScrubber(last);
        }

        var values = vendor.CredentialSecretNames.Where(secrets.ContainsKey).Select(name => secrets[name]).ToList();
        if (upstreamAuthorization is not null)
        {
            values.Add(credential.ToString());
        }

        var patterns = new Patterns(values, upstreamAuthorization is not null);
        LastPatterns[vendor.Name] = patterns;
        return new SecretScrubber(patterns);
    }

    /// <summary>A header value with every credential overwritten.</summary>
    public string Scrub(string value)
    {
        foreach (string secret in _secretTexts)
        {
            int at;
            while ((at = value.IndexOf(secret, StringComparison.Ordinal)) >= 0)
            {
                value = string.Concat(value.AsSpan(0, at), new string('*', secret.Length), value.AsSpan(at + secret.Length));
                Count++;
            }
        }

        return value;
    }

    /// <summary>Writes <paramref name="head"/> and then the rest of <paramref name="rest"/> (if any) to <paramref name="destination"/>, scrubbed.</summary>
    public async Task CopyAsync(ReadOnlyMemory<byte> head, Stream? rest, Stream destination, CancellationToken cancellationToken)
    {
        if (_secrets.Length == 0)
        {
            await destination.WriteAsync(head, cancellationToken);
            if (rest is not null)
            {
                await rest.CopyToAsync(destination, cancellationToken);
            }

            return;
        }

        int keep = _secrets.Max(s => s.Length) - 1;
        const int chunk = 16 * 1024;
        byte[] window = ArrayPool<byte>.Shared.Rent(keep + Math.Max(chunk, head.Length));
        try
        {
            int held = 0;
            ReadOnlyMemory<byte> pending = head;
            while (true)
            {
                int filled;
                if (!pending.IsEmpty)
                {
                    if (held + pending.Length > window.Length)
                    {
                        byte[] larger = ArrayPool<byte>.Shared.Rent(held + pending.Length);
                        window.AsSpan(0, held).CopyTo(larger);
                        ArrayPool<byte>.Shared.Return(window);
                        window = larger;
                    }

                    pending.Span.CopyTo(window.AsSpan(held));
                    filled = held + pending.Length;
                    pending = ReadOnlyMemory<byte>.Empty;
                }
                else
                {
                    int read = rest is null ? 0 : await rest.ReadAsync(window.AsMemory(held, Math.Min(chunk, window.Length - held)), cancellationToken);
                    if (read == 0)
                    {
                        break;
                    }

                    filled = held + read;
                }

                MaskAll(window.AsSpan(0, filled));

                // Everything but the tail is final: an occurrence starting before the tail ends inside the window.
                int final = Math.Max(0, filled - keep);
                await destination.WriteAsync(window.AsMemory(0, final), cancellationToken);
                window.AsSpan(final, filled - final).CopyTo(window);
                held = filled - final;
            }

            await destination.WriteAsync(window.AsMemory(0, held), cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(window);
        }
    }

    /// <summary>The credentials' texts and UTF-8 bytes, longest first, and the values they were built from.</summary>
    private sealed class Patterns
    {
        private readonly List<string> _source;
        private readonly bool _withAuthorization;

        public Patterns(List<string> source, bool withAuthorization)
        {
            _source = source;
            _withAuthorization = withAuthorization;
            Texts = source.Where(s => s.Length >= MinSecretLength).Distinct(StringComparer.Ordinal).OrderByDescending(s => s.Length).ToArray();
            Bytes = Texts.Select(Encoding.UTF8.GetBytes).ToArray();
        }

        public string[] Texts { get; }

        public byte[][] Bytes { get; }

        public bool BuiltFrom(VendorDefinition vendor, IReadOnlyDictionary<string, string> secrets, ReadOnlySpan<char> credential, bool withAuthorization)
        {
            if (withAuthorization != _withAuthorization)
            {
                return false;
            }

            int i = 0;
            foreach (string name in vendor.CredentialSecretNames)
            {
                if (secrets.TryGetValue(name, out string? value) && (i >= _source.Count || !string.Equals(_source[i++], value, StringComparison.Ordinal)))
                {
                    return false;
                }
            }

            return withAuthorization
                ? i == _source.Count - 1 && credential.SequenceEqual(_source[i])
                : i == _source.Count;
        }
    }

    private void MaskAll(Span<byte> bytes)
    {
        foreach (byte[] secret in _secrets)
        {
            int from = 0;
            int at;
            while ((at = bytes[from..].IndexOf(secret)) >= 0)
            {
                bytes.Slice(from + at, secret.Length).Fill(Mask);
                Count++;
                from += at + secret.Length;
            }
        }
    }
}
