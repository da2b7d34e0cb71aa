using Stripe;
using Twilio.Clients;

namespace Keybrake.Sandbox.Tests;

/// <summary>The official SDKs pointed at a fake (or any other base URL).</summary>
internal static class SdkClients
{
    /// <summary>Stripe.net with a custom API base: ApiBase takes the base without a trailing slash.</summary>
    public static StripeClient Stripe(Uri baseUrl, string apiKey) =>
        new(new StripeClientOptions
        {
            ApiKey = apiKey,
            ApiBase = baseUrl.ToString().TrimEnd('/'),
            // No automatic retries: a test sees exactly one request per call.
            HttpClient = new SystemNetHttpClient(maxNetworkRetries: 0, enableTelemetry: false),
        });

    /// <summary>
    /// Twilio builds https://api.twilio.com/... itself; a handler rewrites scheme, host, port
    /// (and prefixes the base URL's path) on the way out.
    /// </summary>
    public static TwilioRestClient Twilio(Uri baseUrl, string username, string password) =>
        new(username, password, httpClient: new global::Twilio.Http.SystemNetHttpClient(BaseUrlRewriteHandler.CreateClient(baseUrl)));
}
