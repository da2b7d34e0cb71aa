namespace Keybrake.Domain.Vendors;

/// <summary>
/// SMS segment counting: GSM-7 (160 septets alone, 153 per part; extension characters take two)
/// unless any character is outside it, then UCS-2 (70 code units alone, 67 per part). A character is
/// never split across parts (an extension character's two septets, a surrogate pair's two code units),
/// as Twilio's segment calculator packs them, so a part may end one unit short.
/// </summary>
public static class SmsSegments
{
    private const string Basic =
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
        "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

    private const string Extension = "^{}\\[~]|€\f";

    public static int Count(string? body)
    {
        if (string.IsNullOrEmpty(body))
        {
            return 1;
        }

        foreach (char c in body)
        {
            if (!Basic.Contains(c, StringComparison.Ordinal) && !Extension.Contains(c, StringComparison.Ordinal))
            {
                return Parts(body, gsm7: false, 70, 67);
            }
        }

        return Parts(body, gsm7: true, 160, 153);
    }

    private static int Parts(string body, bool gsm7, int single, int perPart)
    {
        int total = 0, parts = 1, used = 0;
        for (int i = 0; i < body.Length; i++)
        {
            int units = gsm7
                ? (Extension.Contains(body[i], StringComparison.Ordinal) ? 2 : 1)
                : (char.IsHighSurrogate(body[i]) && i + 1 < body.Length && char.IsLowSurrogate(body[i + 1]) ? 2 : 1);
            if (units == 2 && !gsm7)
            {
                i++;
            }

            total += units;
            if (used + units > perPart)
            {
                parts++;
                used = 0;
            }

            used += units;
        }

        return total <= single ? 1 : parts;
    }
}
