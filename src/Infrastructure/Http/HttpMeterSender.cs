using Keybrake.Domain.Export;
using Keybrake.Domain.Secrets;
using Keybrake.Infrastructure.Secrets;

namespace Keybrake.Infrastructure.Http;

/// <summary>
/// Sends an outbox row over HTTP with the meter's key from the secret provider. One attempt per call, no
/// retry handler: the outbox is the retry schedule. Failures come back as outcomes, never as exceptions
/// (except cancellation), and their details carry statuses and codes only.
/// </summary>
public sealed class HttpMeterSender(IHttpClientFactory httpClients, ISecretProvider secrets, ExportOptions options) : IMeterSender
{
    public const string HttpClientName = "keybrake-meter";

    /// <summary>Error bodies are read for their code only; a meter has no reason to send more.</summary>
    private const int MaxBodyChars = 64 * 1024;

    public async Task<MeterOutcome> SendAsync(MeterFormat meter, ExportRecord record, CancellationToken cancellationToken)
    {
        string? secret;
        try
        {
            secret = await secrets.GetAsync(meter.SecretName, null, cancellationToken);
        }
        catch (SecretUnavailableException)
        {
            return new MeterOutcome(MeterOutcomeKind.Retry, $"secret '{meter.SecretName}' could not be read");
        }

        if (secret is null)
        {
            return new MeterOutcome(MeterOutcomeKind.Retry, $"secret '{meter.SecretName}' is not set");
        }

        using HttpRequestMessage request = meter.Build(record, options.BaseUrl ?? meter.DefaultBaseUrl, secret);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.TimeoutSeconds));
        try
        {
            using HttpResponseMessage response = await httpClients.CreateClient(HttpClientName).SendAsync(request, timeout.Token);
            string body = await response.Content.ReadAsStringAsync(timeout.Token);
            return meter.Classify((int)response.StatusCode, body.Length > MaxBodyChars ? body[..MaxBodyChars] : body);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new MeterOutcome(MeterOutcomeKind.Retry, $"no answer within {options.TimeoutSeconds} s");
        }
        catch (HttpRequestException e)
        {
            return new MeterOutcome(MeterOutcomeKind.Retry, $"connection failed ({e.HttpRequestError})");
        }
    }
}
