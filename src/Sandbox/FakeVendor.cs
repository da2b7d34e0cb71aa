using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Keybrake.Sandbox;

/// <summary>
/// A loopback Kestrel server that plays one vendor. Every request is buffered, authenticated
/// the vendor's way, answered in the vendor's wire format and recorded in <see cref="Ledger"/>.
/// </summary>
public abstract class FakeVendor : IAsyncDisposable
{
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    private readonly Lock _ledgerGate = new();
    private readonly List<LedgerEntry> _ledger = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly FakeVendorOptions _options;
    private WebApplication? _app;
    private long _sequence;
    private int _disposed;

    private protected FakeVendor(FakeVendorOptions options)
    {
        _options = options;
    }

    /// <summary>"stripe", "twilio", "resend", "lago" or "openmeter".</summary>
    public abstract string Vendor { get; }

    /// <summary>Where the fake listens, with a trailing slash, e.g. http://127.0.0.1:54321/.</summary>
    public Uri BaseUrl { get; private set; } = new("http://127.0.0.1/");

    /// <summary>A snapshot of every request received so far, oldest first (thread-safe).</summary>
    public IReadOnlyList<LedgerEntry> Ledger
    {
        get
        {
            lock (_ledgerGate)
            {
                return _ledger.ToArray();
            }
        }
    }

    /// <summary>Clears the ledger. Stored vendor objects and idempotency keys are kept.</summary>
    public void Reset()
    {
        lock (_ledgerGate)
        {
            _ledger.Clear();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync();
        if (_app is not null)
        {
            using var timeout = new CancellationTokenSource(StopTimeout);
            try
            {
                await _app.StopAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                // Connections still open after the timeout are dropped by DisposeAsync below.
            }

            await _app.DisposeAsync();
        }

        _stopping.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Answers an unauthenticated request, or returns null when the credentials are right.</summary>
    private protected abstract VendorResponse? Authenticate(FakeRequest request);

    /// <summary>The vendor's error response for an injected failure status.</summary>
    private protected abstract VendorResponse InjectedFailure(int status);

    private protected abstract Task<VendorResponse> HandleAsync(FakeRequest request, CancellationToken cancellationToken);

    /// <summary>Last touch on every response (e.g. Stripe's Request-Id header).</summary>
    private protected virtual void Decorate(VendorResponse response)
    {
    }

    /// <summary>Rewrites ledger entries in place (e.g. to record a settled price).</summary>
    private protected void UpdateLedger(Func<LedgerEntry, LedgerEntry> update)
    {
        lock (_ledgerGate)
        {
            for (var i = 0; i < _ledger.Count; i++)
            {
                _ledger[i] = update(_ledger[i]);
            }
        }
    }

    /// <summary>Starts a constructed fake on loopback; a fake that fails to start is disposed, not leaked.</summary>
    private protected static async Task<T> StartAsync<T>(T fake, CancellationToken cancellationToken)
        where T : FakeVendor
    {
        try
        {
            await fake.StartCoreAsync(cancellationToken);
            return fake;
        }
        catch
        {
            await fake.DisposeAsync();
            throw;
        }
    }

    private protected async Task StartCoreAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(FakeVendor).Assembly.GetName().Name,
        });
        builder.WebHost.UseKestrelCore();
        builder.WebHost.UseUrls($"http://127.0.0.1:{_options.Port}");
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = StopTimeout);

        var app = builder.Build();
        app.Run(ProcessAsync);
        await app.StartAsync(cancellationToken);
        _app = app;

        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        var address = addresses?.FirstOrDefault()
            ?? throw new InvalidOperationException($"The fake {Vendor} server did not report a bound address.");
        BaseUrl = new Uri(address.TrimEnd('/') + "/");
    }

    private async Task ProcessAsync(HttpContext context)
    {
        var request = await ReadRequestAsync(context, _options.Clock.GetUtcNow());
        var delay = _options.ResponseDelay;
        var closeWithoutResponse = _options.CloseConnectionWithoutResponse;

        var response = Authenticate(request);
        if (response is null && _options.TakeInjectedFailure() is int status)
        {
            response = InjectedFailure(status);
        }

        response ??= await HandleAsync(request, _stopping.Token);
        Decorate(response);

        var entry = new LedgerEntry
        {
            Vendor = Vendor,
            Method = request.Method,
            Path = request.Path,
            Query = request.Query,
            Authorization = request.Header("Authorization"),
            Headers = request.Headers,
            Body = request.Body,
            Form = FormEncoding.ToDictionary(request.FormFields),
            Status = response.Status,
            ResponseBody = response.Body,
            ObjectId = response.ObjectId,
            AmountMinor = response.AmountMinor,
            Currency = response.Currency,
            PriceUsd = response.PriceUsd,
            Segments = response.Segments,
            EmailCount = response.EmailCount,
            Replayed = response.Replayed,
            ReceivedAt = request.ReceivedAt,
        };
        var sequence = Append(entry);

        var aborted = closeWithoutResponse;
        try
        {
            if (delay > TimeSpan.Zero)
            {
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
                try
                {
                    await Task.Delay(delay, linked.Token);
                }
                catch (OperationCanceledException)
                {
                    aborted = true;
                }
            }
        }
        finally
        {
            response.Completed?.Invoke();
        }

        if (aborted)
        {
            MarkAborted(sequence);
            context.Abort();
            return;
        }

        context.Response.StatusCode = response.Status;
        foreach (var (name, value) in response.Headers)
        {
            context.Response.Headers.Append(name, value);
        }

        if (response.ContentType.Length > 0)
        {
            context.Response.ContentType = response.ContentType;
        }

        if (response.Status == StatusCodes.Status204NoContent)
        {
            return;
        }

        var bytes = Encoding.UTF8.GetBytes(response.Body);
        context.Response.ContentLength = bytes.Length;
        try
        {
            await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            MarkAborted(sequence);
        }
    }

    /// <summary>
    /// Whether a JSON object body is read as parameters too (its top-level strings and numbers). Rule: API
    /// stacks often add a JSON body parser next to the form one; a fake that does so checks that the proxy
    /// refuses what it cannot read rather than assuming the vendor ignores it.
    /// </summary>
    private protected virtual bool ReadsJsonBodyAsParameters => false;

    private async Task<FakeRequest> ReadRequestAsync(HttpContext context, DateTimeOffset receivedAt)
    {
        var http = context.Request;
        using var raw = new MemoryStream();
        await http.Body.CopyToAsync(raw, context.RequestAborted);

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var header in http.Headers)
        {
            headers[header.Key] = header.Value.ToString();
        }

        var path = (http.PathBase + http.Path).ToUriComponent();
        var rawTarget = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (rawTarget is not null && rawTarget.StartsWith('/'))
        {
            var q = rawTarget.IndexOf('?', StringComparison.Ordinal);
            path = q < 0 ? rawTarget : rawTarget[..q];
        }

        return Read(http.Method, path, http.QueryString.Value ?? string.Empty, headers, raw.ToArray(), ReadsJsonBodyAsParameters, receivedAt);
    }

    /// <summary>
    /// A request as the fake reads it, from its parts: the one place the fakes' parsing rules live, used by
    /// the servers and by tests that need to know what a vendor would make of a request without sending it.
    /// </summary>
    internal static FakeRequest Read(
        string method, string path, string query, IReadOnlyDictionary<string, string> headers, byte[] raw, bool readsJsonBodyAsParameters, DateTimeOffset receivedAt)
    {
        if (headers.TryGetValue("Content-Encoding", out var encoding) && encoding.Contains("gzip", StringComparison.OrdinalIgnoreCase))
        {
            // Rule: a gzip-encoded body is inflated before it is parsed, as front ends in front of APIs often do.
            try
            {
                using var inflated = new MemoryStream();
                using (var gzip = new System.IO.Compression.GZipStream(new MemoryStream(raw), System.IO.Compression.CompressionMode.Decompress))
                {
                    gzip.CopyTo(inflated);
                }

                raw = inflated.ToArray();
            }
            catch (InvalidDataException)
            {
                // Not gzip after all: parsed as sent.
            }
        }

        // Rule: a UTF-8 byte-order mark is dropped and bytes that are not UTF-8 become U+FFFD, as a lenient server does.
        string body;
        using (var reader = new StreamReader(new MemoryStream(raw), Encoding.UTF8))
        {
            body = reader.ReadToEnd();
        }

        // Rule (Rack's form_data?): a POST without a content type is read as a form, like an urlencoded one
        // whatever its charset parameter says.
        headers.TryGetValue("Content-Type", out var contentType);
        var isForm = contentType is not null
            ? contentType.TrimStart().StartsWith("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase)
            : HttpMethods.IsPost(method);
        var isJson = readsJsonBodyAsParameters && contentType is not null
            && contentType.TrimStart().StartsWith("application/json", StringComparison.OrdinalIgnoreCase);

        return new FakeRequest(
            method,
            path,
            query,
            headers,
            body,
            isForm ? FormEncoding.Parse(body) : isJson ? JsonParameters(body) : [],
            FormEncoding.Parse(query),
            receivedAt);
    }

    private static List<KeyValuePair<string, string>> JsonParameters(string body)
    {
        var fields = new List<KeyValuePair<string, string>>();
        try
        {
            if (System.Text.Json.Nodes.JsonNode.Parse(body, documentOptions: new System.Text.Json.JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = System.Text.Json.JsonCommentHandling.Skip }) is System.Text.Json.Nodes.JsonObject json)
            {
                foreach (var (key, value) in json)
                {
                    if (value is System.Text.Json.Nodes.JsonValue scalar)
                    {
                        fields.Add(new(key, scalar.ToString()));
                    }
                }
            }
        }
        catch (System.Text.Json.JsonException)
        {
            // Not JSON: no parameters from the body.
        }

        return fields;
    }

    private long Append(LedgerEntry entry)
    {
        lock (_ledgerGate)
        {
            var sequence = ++_sequence;
            _ledger.Add(entry with { Sequence = sequence });
            return sequence;
        }
    }

    private void MarkAborted(long sequence)
    {
        UpdateLedger(e => e.Sequence == sequence ? e with { Aborted = true } : e);
    }
}
