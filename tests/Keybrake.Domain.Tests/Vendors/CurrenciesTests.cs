using Keybrake.Domain.Common;
using Keybrake.Domain.Pricing;

namespace Keybrake.Domain.Tests.Vendors;

/// <summary>Stripe's minor units (docs/vendors.md: zero- and three-decimal currencies) to USD micro-dollars.</summary>
public sealed class CurrenciesTests
{
    private readonly Currencies _currencies = new(TestPricing.Options());

    [Theory]
    [InlineData("bif")]
    [InlineData("clp")]
    [InlineData("djf")]
    [InlineData("gnf")]
    [InlineData("jpy")]
    [InlineData("kmf")]
    [InlineData("krw")]
    [InlineData("mga")]
    [InlineData("pyg")]
    [InlineData("rwf")]
    [InlineData("ugx")]
    [InlineData("vnd")]
    [InlineData("vuv")]
    [InlineData("xaf")]
    [InlineData("xof")]
    [InlineData("xpf")]
    [InlineData("JPY")]
    public void StripesZeroDecimalCurrencies_HaveNoMinorUnit(string currency) => Assert.Equal(0, Currencies.DecimalsOf(currency));

    [Theory]
    [InlineData("bhd")]
    [InlineData("jod")]
    [InlineData("kwd")]
    [InlineData("omr")]
    [InlineData("tnd")]
    public void StripesThreeDecimalCurrencies_HaveThousandths(string currency) => Assert.Equal(3, Currencies.DecimalsOf(currency));

    [Theory]
    [InlineData("usd")]
    [InlineData("eur")]
    [InlineData("gbp")]
    [InlineData("inr")]
    public void OtherCurrencies_HaveCents(string currency) => Assert.Equal(2, Currencies.DecimalsOf(currency));

    [Theory]
    [InlineData(2000, "usd", 20_000_000)] // $20.00
    [InlineData(1, "usd", 10_000)] // one cent
    [InlineData(2000, "USD", 20_000_000)] // Stripe's codes are lowercase; configuration is not case-sensitive
    [InlineData(1000, "eur", 11_000_000)] // €10.00 × 1.10
    [InlineData(5000, "jpy", 32_500_000)] // ¥5000 (no minor unit) × 0.0065 = $32.50
    [InlineData(10000, "krw", 7_500_000)] // ₩10000 × 0.00075 = $7.50
    [InlineData(1500, "kwd", 4_950_000)] // 1.500 KWD × 3.30 = $4.95
    [InlineData(1, "bhd", 2_700)] // 0.001 BHD × 2.70 = $0.0027
    [InlineData(0, "usd", 0)]
    public void MinorUnits_AreScaledByTheirCurrencysDecimals_ThenConverted(long amountMinor, string currency, long micros) =>
        Assert.Equal(micros, _currencies.ToUsdMicros(amountMinor, currency));

    [Fact]
    public void AConversionBelowAMicroDollar_RoundsHalfAwayFromZero()
    {
        var currencies = new Currencies(new PricingOptions { FxToUsd = new(StringComparer.OrdinalIgnoreCase) { ["jpy"] = 0.0000015m } });

        // ¥1 × 0.0000015 = 1.5 micro-dollars: a half rounds up, so a sum of small charges is not under-counted.
        Assert.Equal(2, currencies.ToUsdMicros(1, "jpy"));
        Assert.Equal(0, currencies.ToUsdMicros(0, "jpy"));
    }

    [Theory]
    [InlineData("xyz")]
    [InlineData("gbp")] // a real currency with no configured rate
    public void ACurrencyWithoutARate_IsRefused_FailClosed(string currency)
    {
        Assert.False(_currencies.IsKnown(currency));
        KeybrakeException refused = Assert.Throws<KeybrakeException>(() => _currencies.ToUsdMicros(100, currency));
        Assert.Equal(("unknown_currency", ErrorKind.Validation), (refused.Code, refused.Kind));
    }

    [Fact]
    public void NoCurrency_IsNotKnown() => Assert.False(_currencies.IsKnown(null));

    [Theory]
    [InlineData("0.0083", 1, 8_300)]
    [InlineData("0.0083", 3, 24_900)]
    [InlineData("0.0009", 100, 90_000)] // a batch of 100 emails at $0.90 per 1,000
    [InlineData("0.0000005", 1, 1)] // half a micro-dollar rounds up
    [InlineData("0.0000004", 1, 0)]
    [InlineData("0.0083", 0, 0)]
    public void UnitPrices_AreExactInMicroDollars(string unitUsd, long units, long micros) =>
        Assert.Equal(micros, Currencies.PriceMicros(decimal.Parse(unitUsd, System.Globalization.CultureInfo.InvariantCulture), units));
}
