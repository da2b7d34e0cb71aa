using Keybrake.Domain.Pricing;

namespace Keybrake.Domain.Tests.Vendors;

/// <summary>
/// Prices and FX rates chosen by the tests, not the shipped defaults, so every expected figure below is
/// worked out by hand from these numbers and the vendors' rules and does not move when a default does.
/// </summary>
internal static class TestPricing
{
    public static PricingOptions Options() => new()
    {
        FxToUsd = new Dictionary<string, decimal>(StringComparer.OrdinalIgnoreCase)
        {
            ["usd"] = 1m,
            ["eur"] = 1.10m,
            ["jpy"] = 0.0065m,
            ["krw"] = 0.00075m,
            ["kwd"] = 3.30m,
            ["bhd"] = 2.70m,
        },
        TwilioPricePerSegmentUsd = 0.0100m,
        TwilioPricePerMediaMessageUsd = 0.0200m,
        ResendPricePerEmailUsd = 0.0010m,
    };
}
