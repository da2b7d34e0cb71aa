namespace Keybrake.Domain.Vendors;

/// <summary>
/// SMS segment counting: GSM-7 (160 septets alone, 153 per part; extension characters take two)
/// unless any character is outside it, then UCS-2 (70 code units alone, 67 per part).
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

        int septets = 0;
        foreach (char c in body)
        {
            if (Basic.Contains(c, StringComparison.Ordinal))
            {
                septets++;
            }
            else if (Extension.Contains(c, StringComparison.Ordinal))
            {
                septets += 2;
            }
            else
            {
                return Parts(body.Length, 70, 67);
            }
        }

        return Parts(septets, 160, 153);
    }

    private static int Parts(int units, int single, int perPart) => units <= single ? 1 : (units + perPart - 1) / perPart;
}
