namespace Keybrake.Sandbox;

/// <summary>
/// Sends every request to another base URL, keeping the path and query: the request for
/// <c>https://api.twilio.com/2010-04-01/Accounts/AC.../Messages.json</c> goes to
/// <c>{baseUrl}2010-04-01/Accounts/AC.../Messages.json</c>. The base URL's own path is kept as a
/// prefix, so <c>http://127.0.0.1:7071/proxy/twilio/</c> works. Used to point SDKs that hard-code
/// their host (Twilio) at a fake vendor or at the proxy.
/// </summary>
public sealed class BaseUrlRewriteHandler : DelegatingHandler
{
    private readonly Uri _baseUrl;

    public BaseUrlRewriteHandler(Uri baseUrl)
        : this(baseUrl, new SocketsHttpHandler())
    {
    }

    public BaseUrlRewriteHandler(Uri baseUrl, HttpMessageHandler innerHandler)
        : base(innerHandler)
    {
        ArgumentNullException.ThrowIfNull(baseUrl);
        if (!baseUrl.IsAbsoluteUri)
        {
            throw new ArgumentException("The base URL must be absolute.", nameof(baseUrl));
        }

        _baseUrl = baseUrl;
    }

    /// <summary>
    /// A <see cref="HttpClient"/> whose requests all go to <paramref name="baseUrl"/> + the original
    /// path and query. Give it to the SDK, e.g. <c>new Twilio.Http.SystemNetHttpClient(client)</c>.
    /// </summary>
    public static HttpClient CreateClient(Uri baseUrl, TimeSpan? timeout = null)
    {
        var client = new HttpClient(new BaseUrlRewriteHandler(baseUrl), disposeHandler: true);
        if (timeout is { } value)
        {
            client.Timeout = value;
        }

        return client;
    }

    /// <summary>The URL a request for <paramref name="original"/> is sent to.</summary>
    public Uri Rewrite(Uri original)
    {
        ArgumentNullException.ThrowIfNull(original);
        var prefix = _baseUrl.AbsolutePath.TrimEnd('/');
        return new Uri(_baseUrl.GetLeftPart(UriPartial.Authority) + prefix + original.PathAndQuery);
    }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.RequestUri is { IsAbsoluteUri: true } uri)
        {
            request.RequestUri = Rewrite(uri);
        }

        return base.SendAsync(request, cancellationToken);
    }
}
