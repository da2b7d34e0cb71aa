using System.Globalization;
using Keybrake.Domain.Common;
using Xunit.Abstractions;

namespace Keybrake.Domain.Tests.Common;

/// <summary>docs/design.md §4: money is USD with up to 6 decimals, stored as integer micro-dollars, never binary floating point.</summary>
public sealed class UsdTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("1.5", 1_500_000)]
    [InlineData("0.000001", 1)]
    [InlineData("20", 20_000_000)]
    [InlineData("-20.000001", -20_000_001)] // refunds are negative
    [InlineData("0", 0)]
    [InlineData("1000000000", 1_000_000_000_000_000)]
    public void Dollars_AreExactMicroDollars(string dollars, long micros)
    {
        decimal value = decimal.Parse(dollars, CultureInfo.InvariantCulture);

        Assert.Equal(micros, Usd.ToMicros(value));
        Assert.True(Usd.TryToMicros(value, out long tried));
        Assert.Equal(micros, tried);
        Assert.Equal(value, Usd.FromMicros(micros));
    }

    [Theory]
    [InlineData("0.0000001")] // a seventh decimal is not a micro-dollar: refused, never rounded away
    [InlineData("1.2345675")]
    [InlineData("-0.0000005")]
    public void MoreThanSixDecimals_AreRefused(string dollars)
    {
        decimal value = decimal.Parse(dollars, CultureInfo.InvariantCulture);

        Assert.Throws<ArgumentException>(() => Usd.ToMicros(value));
        Assert.False(Usd.TryToMicros(value, out _));
    }

    [Theory]
    [InlineData("10000000000000000000000000000")] // 1e28, near decimal's own limit
    [InlineData("9223372036855")] // past long.MaxValue micro-dollars
    [InlineData("-9223372036855")]
    public void AmountsBeyondMicroDollarRange_AreRefused_NotOverflowed(string dollars) =>
        Assert.False(Usd.TryToMicros(decimal.Parse(dollars, CultureInfo.InvariantCulture), out _));

    [Theory]
    [InlineData(0, "0.000000")]
    [InlineData(1, "0.000001")]
    [InlineData(20_000_000, "20.000000")]
    [InlineData(123_456_789, "123.456789")]
    [InlineData(-20_000_000, "-20.000000")]
    public void Format_IsSixFixedPlaces(long micros, string text) => Assert.Equal(text, Usd.Format(micros));

    [Fact]
    public void Format_IgnoresTheMachinesCulture()
    {
        CultureInfo before = CultureInfo.CurrentCulture;
        try
        {
            CultureInfo.CurrentCulture = CultureInfo.GetCultureInfo("de-DE");

            Assert.Equal("1234.500000", Usd.Format(1_234_500_000));
        }
        finally
        {
            CultureInfo.CurrentCulture = before;
        }
    }

    /// <summary>Micro-dollars → dollars → micro-dollars, and → text → dollars, are exact for any amount. Seeded.</summary>
    [Fact]
    public void GeneratedAmounts_RoundTripExactly()
    {
        int seed = Generated.RequestShapes.Seed();
        output.WriteLine($"seed {seed} (KEYBRAKE_TEST_SEED={seed} replays it)");
        var rng = new Random(seed);
        for (int i = 0; i < 10_000; i++)
        {
            long micros = rng.Next(3) switch
            {
                0 => rng.NextInt64(-1_000_000, 1_000_000),
                1 => rng.NextInt64(-9_000_000_000_000_000_000, 9_000_000_000_000_000_000),
                _ => rng.NextInt64(0, 1_000) * Usd.MicrosPerDollar,
            };

            decimal dollars = Usd.FromMicros(micros);
            string text = Usd.Format(micros);
            if (Usd.ToMicros(dollars) != micros || decimal.Parse(text, CultureInfo.InvariantCulture) != dollars)
            {
                Assert.Fail($"case {i} of seed {seed}: {micros} micro-dollars are {dollars} dollars and format as {text}");
            }
        }
    }
}
