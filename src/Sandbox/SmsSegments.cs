namespace Keybrake.Sandbox;

/// <summary>Character set a text message is sent in.</summary>
public enum SmsEncoding
{
    /// <summary>GSM 03.38 7-bit default alphabet (with its extension table).</summary>
    Gsm7,

    /// <summary>UCS-2 (UTF-16 code units), used as soon as one character is outside GSM-7.</summary>
    Ucs2,
}

/// <summary>How a message body is segmented.</summary>
/// <param name="Encoding">GSM-7 or UCS-2.</param>
/// <param name="Units">Septets for GSM-7 (extension characters count 2), UTF-16 code units for UCS-2.</param>
/// <param name="Segments">Number of SMS segments billed.</param>
public readonly record struct SmsSegmentCount(SmsEncoding Encoding, int Units, int Segments);

/// <summary>
/// Independent SMS segment counter used by the fake Twilio as ground truth. GSM-7: 160 septets in
/// a single segment, 153 per part of a concatenated message; the extension characters
/// <c>^ { } \ [ ~ ] | €</c> and form feed take two septets. Any character outside GSM-7 switches the
/// whole message to UCS-2: 70 code units single, 67 per part (an emoji outside the BMP is two
/// code units). An empty body is one segment. Concatenated parts never split a character (an extension
/// character's escape and septet, a surrogate pair), as Twilio packs them, so a part may end one unit short.
/// </summary>
public static class SmsSegments
{
    public const int Gsm7SingleSegment = 160;
    public const int Gsm7PerPart = 153;
    public const int Ucs2SingleSegment = 70;
    public const int Ucs2PerPart = 67;

    // GSM 03.38 basic character set (the escape code 0x1B excluded).
    private const string Basic =
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
        "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

    private const string Extension = "^{}\\[~]|€\f";

    private static readonly HashSet<char> BasicSet = [.. Basic];
    private static readonly HashSet<char> ExtensionSet = [.. Extension];

    public static SmsSegmentCount Count(string body)
    {
        ArgumentNullException.ThrowIfNull(body);

        var septets = 0;
        var widths = new List<int>(body.Length);
        foreach (var c in body)
        {
            if (BasicSet.Contains(c))
            {
                septets += 1;
                widths.Add(1);
            }
            else if (ExtensionSet.Contains(c))
            {
                septets += 2;
                widths.Add(2);
            }
            else
            {
                return new SmsSegmentCount(SmsEncoding.Ucs2, body.Length, Segments(body.Length, Ucs2Widths(body), Ucs2SingleSegment, Ucs2PerPart));
            }
        }

        return new SmsSegmentCount(SmsEncoding.Gsm7, septets, Segments(septets, widths, Gsm7SingleSegment, Gsm7PerPart));
    }

    private static List<int> Ucs2Widths(string body)
    {
        var widths = new List<int>(body.Length);
        for (var i = 0; i < body.Length; i++)
        {
            var pair = char.IsHighSurrogate(body[i]) && i + 1 < body.Length && char.IsLowSurrogate(body[i + 1]);
            widths.Add(pair ? 2 : 1);
            i += pair ? 1 : 0;
        }

        return widths;
    }

    /// <summary>Parts filled character by character: a character that does not fit whole starts the next part.</summary>
    private static int Segments(int units, List<int> widths, int single, int perPart)
    {
        if (units <= single)
        {
            return 1;
        }

        int parts = 1, used = 0;
        foreach (var width in widths)
        {
            if (used + width > perPart)
            {
                parts++;
                used = 0;
            }

            used += width;
        }

        return parts;
    }
}
