namespace Keybrake.Domain.Tests.Vendors;

/// <summary>
/// Twilio's segment rules written out independently of the code under test (docs/vendors.md and Twilio's published
/// segment calculator): GSM-7 160 septets alone, 153 per part, extension characters two septets; otherwise
/// UCS-2, 70 code units alone, 67 per part; a character (an escape pair, a surrogate pair) is never split.
/// </summary>
internal static class SmsRules
{
    // GSM 03.38 default alphabet, written out from the standard's table (0x00-0x7F, escape 0x1B left out),
    // independently of the copy in the code under test.
    public static readonly string Gsm7Basic = string.Concat(
        "@\u00A3$\u00A5\u00E8\u00E9\u00F9\u00EC\u00F2\u00C7\n\u00D8\u00F8\r\u00C5\u00E5",
        "\u0394_\u03A6\u0393\u039B\u03A9\u03A0\u03A8\u03A3\u0398\u039E\u00C6\u00E6\u00DF\u00C9",
        " !\"#\u00A4%&'()*+,-./0123456789:;<=>?",
        "\u00A1ABCDEFGHIJKLMNOPQRSTUVWXYZ\u00C4\u00D6\u00D1\u00DC\u00A7",
        "\u00BFabcdefghijklmnopqrstuvwxyz\u00E4\u00F6\u00F1\u00FC\u00E0");

    // The extension table: escape 0x1B then one of these.
    public const string Gsm7Extension = "\f^{}\\[~]|\u20AC";

    /// <summary>The rules, packed naively: each character (a surrogate pair whole) into the current part, or the next.</summary>
    public static int Segments(string body)
    {
        bool gsm = body.All(c => Gsm7Basic.Contains(c, StringComparison.Ordinal) || Gsm7Extension.Contains(c, StringComparison.Ordinal));
        var sizes = new List<int>();
        for (int i = 0; i < body.Length; i++)
        {
            if (gsm)
            {
                sizes.Add(Gsm7Extension.Contains(body[i], StringComparison.Ordinal) ? 2 : 1);
            }
            else if (char.IsHighSurrogate(body[i]) && i + 1 < body.Length)
            {
                sizes.Add(2);
                i++;
            }
            else
            {
                sizes.Add(1);
            }
        }

        (int single, int perPart) = gsm ? (160, 153) : (70, 67);
        if (sizes.Sum() <= single)
        {
            return 1;
        }

        int parts = 1, used = 0;
        foreach (int size in sizes)
        {
            if (used + size > perPart)
            {
                parts++;
                used = 0;
            }

            used += size;
        }

        return parts;
    }
}
