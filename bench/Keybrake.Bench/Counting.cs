using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Security.KeyVault.Secrets;

namespace Keybrake.Bench;

/// <summary>
/// Counts every HTTP request the Table Storage client sends (retries included): round trips, counted not timed.
/// Also counts entity-group transactions refused for an ETag or insert conflict (412/409 inside the batch
/// answer, which itself is a 202), each of which makes the reservation look again and retry.
/// </summary>
internal sealed class TableRequestCounter : HttpPipelineSynchronousPolicy
{
    private long _count;
    private long _conflicts;
    private long _transactions;

    public long Count => Interlocked.Read(ref _count);

    /// <summary>Entity-group transactions sent (the <c>$batch</c> requests among <see cref="Count"/>).</summary>
    public long Transactions => Interlocked.Read(ref _transactions);

    public long Conflicts => Interlocked.Read(ref _conflicts);

    public override void OnSendingRequest(HttpMessage message)
    {
        Interlocked.Increment(ref _count);
        if (message.Request.Uri.Path.EndsWith("$batch", StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _transactions);
        }
    }

    public override void OnReceivedResponse(HttpMessage message)
    {
        if (message.Request.Uri.Path.EndsWith("$batch", StringComparison.Ordinal) && message.Response.Status == 202 &&
            message.Response.Content?.ToString() is string body &&
            (body.Contains("HTTP/1.1 412", StringComparison.Ordinal) || body.Contains("HTTP/1.1 409", StringComparison.Ordinal)))
        {
            Interlocked.Increment(ref _conflicts);
        }
    }
}

/// <summary>
/// The part of the Key Vault REST API a <see cref="SecretClient"/> uses to read a secret (the bearer challenge,
/// <c>GET /secrets/{name}</c>, 404 for a missing one), answered inside the process as the client's transport,
/// so that scenario 4 runs the real <c>KeyVaultSecretProvider</c> and every request to the vault is counted.
/// </summary>
internal sealed class InProcessKeyVault(IReadOnlyDictionary<string, string> secrets) : HttpMessageHandler
{
    public static readonly Uri VaultUri = new("https://keybrake-bench.vault.azure.net/");
    private readonly ConcurrentDictionary<string, string> _secrets = new(secrets, StringComparer.OrdinalIgnoreCase);
    private long _requests;

    /// <summary>Every request the vault received, bearer challenges included.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    public SecretClient CreateClient()
    {
        var options = new SecretClientOptions { Transport = new HttpClientTransport(this) };
        options.Retry.MaxRetries = 0;
        return new SecretClient(VaultUri, new StaticToken(), options);
    }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _requests);
        if (request.Headers.Authorization is null)
        {
            var challenge = new HttpResponseMessage(HttpStatusCode.Unauthorized);
            challenge.Headers.TryAddWithoutValidation("WWW-Authenticate",
                "Bearer authorization=\"https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001\", resource=\"https://vault.azure.net\"");
            return Task.FromResult(challenge);
        }

        string[] segments = request.RequestUri!.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        string name = segments.Length >= 2 ? segments[1] : string.Empty;
        string body = _secrets.TryGetValue(name, out string? value)
            ? JsonSerializer.Serialize(new { value, id = $"{VaultUri}secrets/{name}/0001", attributes = new { enabled = true } })
            : JsonSerializer.Serialize(new { error = new { code = "SecretNotFound", message = $"A secret with (name/id) {name} was not found in this key vault." } });
        return Task.FromResult(new HttpResponseMessage(value is null ? HttpStatusCode.NotFound : HttpStatusCode.OK)
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        });
    }

    private sealed class StaticToken : TokenCredential
    {
        private static readonly AccessToken Token = new("bench-token", DateTimeOffset.MaxValue);

        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) => Token;

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) => ValueTask.FromResult(Token);
    }
}
