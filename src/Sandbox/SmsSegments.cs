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
/// code units). An empty body is one segment.
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
        foreach (var c in body)
        {
            if (BasicSet.Contains(c))
            {
                septets += 1;
            }
            else if (ExtensionSet.Contains(c))
            {
                septets += 2;
            }
            else
            {
                var units = body.Length;
                return new SmsSegmentCount(SmsEncoding.Ucs2, units, Segments(units, Ucs2SingleSegment, Ucs2PerPart));
            }
        }

        return new SmsSegmentCount(SmsEncoding.Gsm7, septets, Segments(septets, Gsm7SingleSegment, Gsm7PerPart));
    }

    private static int Segments(int units, int single, int perPart) =>
        units <= single ? 1 : (units + perPart - 1) / perPart;
}
