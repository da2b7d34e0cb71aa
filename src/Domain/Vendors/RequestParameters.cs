using System.Text;
using Keybrake.Domain.Common;

namespace Keybrake.Domain.Vendors;

/// <summary>Where a request parameter was given.</summary>
public enum ParameterPlace
{
    Query,
    Body,
}

/// <summary>One <c>name=value</c> pair as the vendor would read it.</summary>
public readonly record struct RequestParameter(string Name, string Value, ParameterPlace Place);

/// <summary>
/// The parameters of a form-style request (Stripe, Twilio) read from every place the vendor reads them:
/// the query string and the form body together, in order. Servers like the vendors' (Rack, for one) merge
/// the two, so reading only the body would let an amount in the query string go unseen.
/// <para>
/// Reading is strict on purpose: anything a lenient server might parse differently from us (another
/// content type or charset, a content encoding, a byte-order mark, bytes or escapes that are not UTF-8,
/// a ';' separator, names padded with spaces or control characters) is refused as unreadable rather than
/// guessed at. Only money-moving calls are read this way; reads are forwarded as they are.
/// </para>
/// </summary>
public sealed class RequestParameters
{
    public const string UnreadableCode = "unreadable_request";

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private RequestParameters(List<RequestParameter> parameters) => All = parameters;

    /// <summary>Every pair, query string first, then the body, each in the order sent.</summary>
    public IReadOnlyList<RequestParameter> All { get; }

    public static KeybrakeException Unreadable(string why) =>
        new(ErrorKind.Validation, UnreadableCode, "Keybrake cannot read this request unambiguously, so it was not forwarded: " + why);

    /// <summary>Reads the query string (with or without its '?') and a form body; throws <see cref="Unreadable"/> when either is ambiguous.</summary>
    public static RequestParameters Read(string? query, string? contentType, string? contentEncoding, ReadOnlySpan<byte> body)
    {
        var parameters = new List<RequestParameter>();
        string queryText = query is { Length: > 0 } && query[0] == '?' ? query[1..] : query ?? string.Empty;
        Parse(queryText, ParameterPlace.Query, parameters);

        if (!string.IsNullOrEmpty(contentEncoding) && !contentEncoding.Trim().Equals("identity", StringComparison.OrdinalIgnoreCase))
        {
            // The vendor may decompress what we would read as bytes.
            throw Unreadable($"a Content-Encoding ('{contentEncoding}') on a money-moving call.");
        }

        if (body.IsEmpty)
        {
            return new RequestParameters(parameters);
        }

        if (!IsFormContentType(contentType))
        {
            throw Unreadable($"a body with content type '{contentType ?? "(none)"}'; send application/x-www-form-urlencoded (UTF-8).");
        }

        if (body.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            throw Unreadable("the body starts with a byte-order mark.");
        }

        string text;
        try
        {
            text = StrictUtf8.GetString(body);
        }
        catch (DecoderFallbackException)
        {
            throw Unreadable("the body is not valid UTF-8.");
        }

        Parse(text, ParameterPlace.Body, parameters);
        return new RequestParameters(parameters);
    }

    /// <summary>
    /// The one value of a money parameter: the last one given (Stripe's and Rack's rule) when it is repeated
    /// in one place; refused when it is given in both the query string and the body, whose precedence the
    /// vendor does not document. Null when absent.
    /// </summary>
    public string? Last(string name)
    {
        string? value = null;
        ParameterPlace? place = null;
        foreach (RequestParameter parameter in All)
        {
            if (parameter.Name != name)
            {
                continue;
            }

            if (place is not null && place != parameter.Place)
            {
                throw Unreadable($"'{name}' is given in both the query string and the body.");
            }

            place = parameter.Place;
            value = parameter.Value;
        }

        return value;
    }

    /// <summary>
    /// A money amount in its one canonical form: digits only, no sign, spaces, leading zeros, decimal point or
    /// exponent, at most 18 digits. Vendors accept more forms than that, and read some of them differently
    /// from one another ("010" is 8 to a strict octal reader, "1e3" is 1 or 1000): all are refused.
    /// </summary>
    public static long Amount(string? text, string name)
    {
        if (text is null)
        {
            throw Unreadable($"'{name}' is missing, so the call has no upper bound.");
        }

        if (text.Length is 0 or > 18 || !text.All(char.IsAsciiDigit) || (text.Length > 1 && text[0] == '0'))
        {
            throw Unreadable($"'{name}' must be a whole number of digits without sign, spaces, leading zeros or exponent, at most 18 digits.");
        }

        return long.Parse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>How many times <paramref name="name"/> is given, anywhere.</summary>
    public int Count(string name) => All.Count(p => p.Name == name);

    /// <summary>Whether any parameter's name matches <paramref name="name"/>.</summary>
    public bool Any(Func<string, bool> name) => All.Any(p => name(p.Name));

    public static bool IsFormContentType(string? contentType)
    {
        if (contentType is null)
        {
            return false;
        }

        string[] parts = contentType.Split(';');
        if (!parts[0].Trim().Equals("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        foreach (string part in parts.Skip(1))
        {
            string parameter = part.Trim();
            if (parameter.Length == 0)
            {
                continue;
            }

            // Only a UTF-8 charset reads the same everywhere; anything else the vendor might decode otherwise.
            int equals = parameter.IndexOf('=', StringComparison.Ordinal);
            string key = equals < 0 ? parameter : parameter[..equals].Trim();
            string value = equals < 0 ? string.Empty : parameter[(equals + 1)..].Trim().Trim('"');
            if (!key.Equals("charset", StringComparison.OrdinalIgnoreCase) ||
                !(value.Equals("utf-8", StringComparison.OrdinalIgnoreCase) || value.Equals("utf8", StringComparison.OrdinalIgnoreCase)))
            {
                return false;
            }
        }

        return true;
    }

    private static void Parse(string text, ParameterPlace place, List<RequestParameter> into)
    {
        if (text.Contains(';', StringComparison.Ordinal))
        {
            // Some form parsers split on ';' as well as '&'.
            throw Unreadable($"a literal ';' in the {Where(place)}; encode it as %3B.");
        }

        foreach (string pair in text.Split('&'))
        {
            if (pair.Length == 0)
            {
                continue;
            }

            int equals = pair.IndexOf('=', StringComparison.Ordinal);
            string name = Decode(equals < 0 ? pair : pair[..equals], place);
            string value = equals < 0 ? string.Empty : Decode(pair[(equals + 1)..], place);
            if (name.Length == 0 || char.IsWhiteSpace(name[0]) || char.IsWhiteSpace(name[^1]) || name.Any(char.IsControl))
            {
                // Parsers differ on trimming such names; one of them could be 'amount'.
                throw Unreadable($"a parameter name that is empty or has surrounding spaces or control characters in the {Where(place)}.");
            }

            into.Add(new RequestParameter(name, value, place));
        }
    }

    /// <summary>'+' is a space; %XX escapes are bytes that together must be UTF-8.</summary>
    private static string Decode(string text, ParameterPlace place)
    {
        if (text.IndexOfAny(['%', '+']) < 0)
        {
            return text;
        }

        var bytes = new List<byte>(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '+')
            {
                bytes.Add((byte)' ');
            }
            else if (c == '%')
            {
                if (i + 2 >= text.Length || !char.IsAsciiHexDigit(text[i + 1]) || !char.IsAsciiHexDigit(text[i + 2]))
                {
                    throw Unreadable($"a malformed percent escape in the {Where(place)}.");
                }

                bytes.Add(Convert.ToByte(text.Substring(i + 1, 2), 16));
                i += 2;
            }
            else if (char.IsHighSurrogate(c) && i + 1 < text.Length)
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(text.Substring(i, 2)));
                i++;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
            }
        }

        try
        {
            return StrictUtf8.GetString([.. bytes]);
        }
        catch (DecoderFallbackException)
        {
            throw Unreadable($"a percent escape in the {Where(place)} that is not UTF-8.");
        }
    }

    private static string Where(ParameterPlace place) => place == ParameterPlace.Query ? "query string" : "body";
}
