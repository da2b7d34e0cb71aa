namespace Keybrake.Domain.Labels;

/// <summary>The vendor names a vault key can be bound to.</summary>
public static class VendorNames
{
    public const string Stripe = "stripe";
    public const string Twilio = "twilio";
    public const string Resend = "resend";

    public static IReadOnlyList<string> Supported { get; } = [Stripe, Twilio, Resend];

    public static bool IsSupported(string? vendor) => vendor is not null && Supported.Contains(vendor, StringComparer.Ordinal);
}
