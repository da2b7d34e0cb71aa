using System.Globalization;

namespace Keybrake.Domain.Common;

/// <summary>
/// USD amounts are stored as integer micro-dollars and shown as decimals with up to six places.
/// Binary floating point never touches money.
/// </summary>
public static class Usd
{
    public const long MicrosPerDollar = 1_000_000;

    public static long ToMicros(decimal dollars)
    {
        decimal micros = dollars * MicrosPerDollar;
        if (micros != decimal.Truncate(micros))
        {
            throw new ArgumentException("USD amounts carry at most 6 decimal places.", nameof(dollars));
        }

        return decimal.ToInt64(micros);
    }

    public static bool TryToMicros(decimal dollars, out long micros)
    {
        micros = 0;

        // Bounded before scaling: a huge input (1e28, from any JSON body) would overflow decimal itself.
        if (dollars > long.MaxValue / MicrosPerDollar || dollars < long.MinValue / MicrosPerDollar)
        {
            return false;
        }

        decimal scaled = dollars * MicrosPerDollar;
        if (scaled != decimal.Truncate(scaled) || scaled > long.MaxValue || scaled < long.MinValue)
        {
            return false;
        }

        micros = decimal.ToInt64(scaled);
        return true;
    }

    public static decimal FromMicros(long micros) => micros / (decimal)MicrosPerDollar;

    /// <summary>Fixed six-place rendering, for headers and CSV where a stable width helps.</summary>
    public static string Format(long micros) =>
        FromMicros(micros).ToString("0.000000", CultureInfo.InvariantCulture);
}
