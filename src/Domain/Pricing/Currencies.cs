using Keybrake.Domain.Common;

namespace Keybrake.Domain.Pricing;

/// <summary>Minor-unit amounts in any currency to USD micro-dollars.</summary>
public sealed class Currencies(PricingOptions options)
{
    private static readonly HashSet<string> ZeroDecimal = new(StringComparer.OrdinalIgnoreCase)
    {
        "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
    };

    private static readonly HashSet<string> ThreeDecimal = new(StringComparer.OrdinalIgnoreCase) { "bhd", "jod", "kwd", "omr", "tnd" };

    public static int DecimalsOf(string currency) =>
        ZeroDecimal.Contains(currency) ? 0 : ThreeDecimal.Contains(currency) ? 3 : 2;

    public bool IsKnown(string? currency) => currency is not null && options.FxToUsd.ContainsKey(currency);

    /// <summary>Converts; an unknown currency is refused, because a wrong guess would let spend past a cap.</summary>
    public long ToUsdMicros(long amountMinor, string currency)
    {
        if (!options.FxToUsd.TryGetValue(currency, out decimal rate))
        {
            throw new KeybrakeException(ErrorKind.Validation, "unknown_currency",
                $"Currency '{currency}' has no configured USD rate (set Pricing__FxToUsd__{currency.ToLowerInvariant()}).");
        }

        decimal major = amountMinor / Pow10(DecimalsOf(currency));
        return decimal.ToInt64(decimal.Round(major * rate * Usd.MicrosPerDollar, 0, MidpointRounding.AwayFromZero));
    }

    public static long PriceMicros(decimal unitUsd, long units) =>
        decimal.ToInt64(decimal.Round(unitUsd * units * Usd.MicrosPerDollar, 0, MidpointRounding.AwayFromZero));

    private static decimal Pow10(int decimals) => decimals switch { 0 => 1m, 3 => 1000m, _ => 100m };
}
