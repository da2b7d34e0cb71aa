using System.Security.Cryptography;

namespace Keybrake.Sandbox;

/// <summary>Random identifiers in the vendors' formats.</summary>
internal static class FakeIds
{
    private const string Alphanumeric = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    /// <summary>Stripe-style id: prefix + 24 alphanumerics, e.g. pi_3PxQ2aLkdIwHu7ix0abc1234.</summary>
    public static string Stripe(string prefix) => prefix + RandomNumberGenerator.GetString(Alphanumeric, 24);

    /// <summary>Twilio-style SID: two letters + 32 lower-case hex digits.</summary>
    public static string TwilioSid(string prefix) => prefix + RandomNumberGenerator.GetHexString(32, lowercase: true);

    public static string Alnum(int length) => RandomNumberGenerator.GetString(Alphanumeric, length);

    /// <summary>Stripe request id: req_ + 14 alphanumerics.</summary>
    public static string StripeRequestId() => "req_" + RandomNumberGenerator.GetString(Alphanumeric, 14);
}
