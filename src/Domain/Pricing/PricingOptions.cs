namespace Keybrake.Domain.Pricing;

/// <summary>
/// Configuration section <c>Pricing</c>: FX rates to USD and the per-unit prices of vendors whose
/// responses carry no cost. Keys of <see cref="FxToUsd"/> are lowercase ISO currency codes; a rate is
/// the USD value of one major unit. Defaults are indicative; operators should set their own.
/// </summary>
public sealed class PricingOptions
{
    public Dictionary<string, decimal> FxToUsd { get; set; } = new(StringComparer.OrdinalIgnoreCase)
    {
        ["usd"] = 1m,
        ["eur"] = 1.08m,
        ["gbp"] = 1.27m,
        ["cad"] = 0.73m,
        ["aud"] = 0.66m,
        ["chf"] = 1.13m,
        ["jpy"] = 0.0067m,
        ["krw"] = 0.00072m,
        ["inr"] = 0.012m,
        ["bhd"] = 2.65m,
        ["kwd"] = 3.25m,
    };

    /// <summary>Twilio's price per SMS segment, used until the real price is settled.</summary>
    public decimal TwilioPricePerSegmentUsd { get; set; } = 0.0083m;

    /// <summary>
    /// Twilio's price per media (MMS) message, on top of its text's segments: the bound of a message with a
    /// <c>MediaUrl</c>. Set it at or above what Twilio charges the account, or calls overshoot their reservation.
    /// </summary>
    public decimal TwilioPricePerMediaMessageUsd { get; set; } = 0.0220m;

    /// <summary>Resend's pay-as-you-go price per email.</summary>
    public decimal ResendPricePerEmailUsd { get; set; } = 0.0009m;
}
