using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Security.KeyVault.Secrets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Keybrake.Secrets.Tests;

/// <summary>
/// The part of the Key Vault REST API that <see cref="SecretClient"/> uses to read a secret, on https://127.0.0.1 with a
/// self-signed certificate made here: the bearer challenge, <c>GET /secrets/{name}[/{version}]?api-version=…</c>, 404
/// <c>SecretNotFound</c>, 403 for a disabled secret, and 503 while <see cref="Down"/>. Counts requests per secret name.
/// </summary>
public sealed class FakeKeyVault : IAsyncDisposable
{
    public const string Token = "fake-key-vault-access-token";

    private readonly ConcurrentDictionary<string, SecretVersions> _secrets = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, int> _reads = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentQueue<string> _requestLines = new();
    private readonly X509Certificate2 _certificate;
    private readonly HttpClientHandler _clientHandler;
    private WebApplication? _app;
    private TaskCompletionSource _resume = CompletedGate();
    private int _requests;
    private volatile bool _down;

    private FakeKeyVault(X509Certificate2 certificate)
    {
        _certificate = certificate;
        _clientHandler = new HttpClientHandler
        {
            // Trust exactly the certificate this fake serves, nothing else.
            ServerCertificateCustomValidationCallback = (_, presented, _, _) =>
                presented is not null && presented.RawDataMemory.Span.SequenceEqual(_certificate.RawDataMemory.Span),
        };
    }

    public Uri VaultUri { get; private set; } = null!;

    /// <summary>Every HTTP request received, bearer challenges included.</summary>
    public int TotalRequests => Volatile.Read(ref _requests);

    /// <summary>Method, path and query of every request, in order.</summary>
    public IReadOnlyCollection<string> RequestLines => _requestLines.ToArray();

    /// <summary>While true every request is answered 503, as if the vault (or the network to it) were down.</summary>
    public bool Down
    {
        get => _down;
        set => _down = value;
    }

    public static async Task<FakeKeyVault> StartAsync()
    {
        var vault = new FakeKeyVault(CreateCertificate());
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(vault._certificate)));
        WebApplication app = builder.Build();
        app.Run(vault.HandleAsync);
        await app.StartAsync();
        vault._app = app;

        string address = app.Urls.Single();
        vault.VaultUri = new Uri(address.TrimEnd('/') + "/");
        return vault;
    }

    /// <summary>A real <see cref="SecretClient"/> for this vault: dummy token, short retries, only this certificate trusted.</summary>
    public SecretClient CreateClient()
    {
        var options = new SecretClientOptions
        {
            // The challenge names https://vault.azure.net, which 127.0.0.1 is not a subdomain of.
            DisableChallengeResourceVerification = true,
            Transport = new HttpClientTransport(_clientHandler),
        };
        options.Retry.MaxRetries = 2;
        options.Retry.Delay = TimeSpan.FromMilliseconds(1);
        options.Retry.MaxDelay = TimeSpan.FromMilliseconds(5);
        return new SecretClient(VaultUri, new FakeTokenCredential(), options);
    }

    /// <summary>Creates the secret, or adds a new current version (a rotation). Returns the version id.</summary>
    public string SetSecret(string name, string value)
    {
        string version = Guid.NewGuid().ToString("N");
        SecretVersions versions = _secrets.GetOrAdd(name, _ => new SecretVersions());
        lock (versions)
        {
            versions.All.Add((version, value));
            versions.Disabled = false;
        }

        return version;
    }

    /// <summary>A disabled secret is answered 403 Forbidden, as Key Vault does.</summary>
    public void DisableSecret(string name)
    {
        SecretVersions versions = _secrets[name];
        lock (versions)
        {
            versions.Disabled = true;
        }
    }

    /// <summary>Requests for this secret name, bearer challenges excluded (failed attempts and retries included).</summary>
    public int Reads(string name) => _reads.GetValueOrDefault(name);

    /// <summary>Hold every secret request until <see cref="ResumeReads"/>.</summary>
    public void PauseReads() => Volatile.Write(ref _resume, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    public void ResumeReads() => Volatile.Read(ref _resume).TrySetResult();

    public async ValueTask DisposeAsync()
    {
        ResumeReads();
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        _clientHandler.Dispose();
        _certificate.Dispose();
    }

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _requests);
        HttpRequest request = context.Request;
        _requestLines.Enqueue($"{request.Method} {request.Path}{request.QueryString}");

        string[] segments = request.Path.Value!.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length is < 2 or > 3 || segments[0] != "secrets" || !HttpMethods.IsGet(request.Method))
        {
            await WriteErrorAsync(context, 400, "BadParameter", "This fake only reads secrets.");
            return;
        }

        string name = segments[1];
        string? version = segments.Length == 3 ? segments[2] : null;

        if (_down)
        {
            _reads.AddOrUpdate(name, 1, (_, n) => n + 1);
            await WriteErrorAsync(context, 503, "ServiceUnavailable", "The fake vault is down.");
            return;
        }

        string authorization = request.Headers.Authorization.ToString();
        if (authorization.Length == 0)
        {
            // The challenge: SecretClient sends its first request bare to learn the authority and resource.
            context.Response.StatusCode = 401;
            context.Response.Headers.WWWAuthenticate =
                "Bearer authorization=\"https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001\", resource=\"https://vault.azure.net\"";
            return;
        }

        if (authorization != "Bearer " + Token)
        {
            _reads.AddOrUpdate(name, 1, (_, n) => n + 1);
            await WriteErrorAsync(context, 401, "Unauthorized", "Unexpected access token.");
            return;
        }

        if (string.IsNullOrEmpty(request.Query["api-version"]))
        {
            _reads.AddOrUpdate(name, 1, (_, n) => n + 1);
            await WriteErrorAsync(context, 400, "BadParameter", "api-version is required.");
            return;
        }

        // The answer is decided when the request arrives (then counted), even if PauseReads holds it back.
        bool disabled = false;
        (string Version, string Value) found = default;
        if (_secrets.TryGetValue(name, out SecretVersions? versions))
        {
            lock (versions)
            {
                disabled = versions.Disabled;
                found = version is null ? versions.All[^1] : versions.All.FirstOrDefault(v => v.Version == version);
            }
        }

        _reads.AddOrUpdate(name, 1, (_, n) => n + 1);
        await Volatile.Read(ref _resume).Task.WaitAsync(context.RequestAborted);

        if (disabled)
        {
            await WriteErrorAsync(context, 403, "Forbidden", "Operation get is not allowed on a disabled secret.");
            return;
        }

        if (found.Version is null)
        {
            await WriteNotFoundAsync(context, name);
            return;
        }

        context.Response.ContentType = "application/json; charset=utf-8";
        await JsonSerializer.SerializeAsync(context.Response.Body, new
        {
            value = found.Value,
            id = new Uri(VaultUri, $"secrets/{name}/{found.Version}").ToString(),
            attributes = new
            {
                enabled = true,
                created = 1_700_000_000,
                updated = 1_700_000_000,
                recoveryLevel = "Recoverable+Purgeable",
                recoverableDays = 90,
            },
        }, cancellationToken: context.RequestAborted);
    }

    private static Task WriteNotFoundAsync(HttpContext context, string name) =>
        WriteErrorAsync(context, 404, "SecretNotFound", $"A secret with (name/id) {name} was not found in this key vault.");

    private static async Task WriteErrorAsync(HttpContext context, int status, string code, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        await JsonSerializer.SerializeAsync(context.Response.Body, new { error = new { code, message } }, cancellationToken: context.RequestAborted);
    }

    private static TaskCompletionSource CompletedGate()
    {
        var gate = new TaskCompletionSource();
        gate.SetResult();
        return gate;
    }

    private static X509Certificate2 CreateCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        DateTimeOffset now = TimeProvider.System.GetUtcNow();
        using X509Certificate2 created = request.CreateSelfSigned(now.AddDays(-1), now.AddDays(1));
        // Round-trip through PKCS#12 so the private key is usable by SslStream on every platform.
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), password: null);
    }

    private sealed class SecretVersions
    {
        public List<(string Version, string Value)> All { get; } = [];

        public bool Disabled { get; set; }
    }

    private sealed class FakeTokenCredential : TokenCredential
    {
        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            new(Token, TimeProvider.System.GetUtcNow().AddHours(1));

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            ValueTask.FromResult(GetToken(requestContext, cancellationToken));
    }
}
