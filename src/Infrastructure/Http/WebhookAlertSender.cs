using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Keybrake.Domain.Alerts;
using Keybrake.Domain.Secrets;
using Keybrake.Infrastructure.Secrets;
using Microsoft.Extensions.Options;

namespace Keybrake.Infrastructure.Http;

/// <summary><c>Alerts__WebhookUrl</c> (empty: alerts wait in the queue) and <c>Alerts__TimeoutSeconds</c>.</summary>
public sealed class AlertOptions
{
    public string? WebhookUrl { get; set; }

    public int TimeoutSeconds { get; set; } = 10;

    public Uri? Webhook => string.IsNullOrWhiteSpace(WebhookUrl) ? null : new Uri(WebhookUrl, UriKind.RelativeOrAbsolute);
}

/// <summary>
/// Posts alert bodies to the operators' webhook, signed like Stripe's: header
/// <c>Keybrake-Signature: t={unix seconds},v1={hex HMAC-SHA256(secret, "{t}.{body}")}</c> with the
/// <c>alerts-webhook-secret</c> secret. Without that secret nothing is sent (an unsigned alert could be forged).
/// </summary>
public sealed class WebhookAlertSender(IHttpClientFactory httpClients, IOptions<AlertOptions> options, ISecretProvider secrets, TimeProvider time) : IAlertSender
{
    public const string HttpClientName = "keybrake-alerts";
    public const string SignatureHeader = "Keybrake-Signature";
    public const string AlertIdHeader = "Keybrake-Alert-Id";

    public bool IsConfigured => options.Value.Webhook is not null;

    public async Task<string?> SendAsync(Alert alert, string body, CancellationToken cancellationToken)
    {
        string? secret;
        try
        {
            secret = await secrets.GetAsync(SecretNames.AlertsWebhookSecret, null, cancellationToken);
        }
        catch (SecretUnavailableException)
        {
            return $"not sent: the '{SecretNames.AlertsWebhookSecret}' secret could not be read";
        }

        if (string.IsNullOrEmpty(secret))
        {
            return $"not sent: the '{SecretNames.AlertsWebhookSecret}' secret that signs webhooks is not set";
        }

        long timestamp = time.GetUtcNow().ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, options.Value.Webhook)
        {
            Content = new StringContent(body, Encoding.UTF8, new MediaTypeHeaderValue("application/json")),
        };
        request.Headers.Add(SignatureHeader, $"t={timestamp},v1={Sign(secret, timestamp, body)}");
        request.Headers.Add(AlertIdHeader, alert.Id);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.Value.TimeoutSeconds));
        try
        {
            using HttpResponseMessage response = await httpClients.CreateClient(HttpClientName).SendAsync(request, timeout.Token);
            return response.IsSuccessStatusCode ? null : $"the webhook answered HTTP {(int)response.StatusCode}";
        }
        catch (HttpRequestException e)
        {
            // The URL itself may carry a token (chat webhooks do), so the error names the failure, never the address.
            return $"the webhook could not be reached ({e.HttpRequestError})";
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return $"the webhook did not answer within {options.Value.TimeoutSeconds} s";
        }
    }

    /// <summary>Lower-case hex HMAC-SHA256 of <c>"{timestamp}.{body}"</c>: what a receiver recomputes to verify.</summary>
    public static string Sign(string secret, long timestamp, string body) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{timestamp}.{body}")));
}
