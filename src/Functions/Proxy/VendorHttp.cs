using Keybrake.Domain.Secrets;
using Keybrake.Domain.Vendors;
using Keybrake.Infrastructure.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Keybrake.Functions.Proxy;

/// <summary>
/// Requests to a vendor with a tenant's real credentials, shared by the proxy and <see cref="VendorLookup"/>: the
/// secrets, the upstream URL (which nothing in a request can move to another host), the named client with its retry
/// policy, and the endpoint's timeout.
/// </summary>
public sealed partial class VendorHttp(
    ISecretProvider secrets, IHttpClientFactory httpClients, IOptionsMonitor<VendorEndpointOptions> endpoints, ILogger<VendorHttp> logger)
{
    // The configured base URLs' scheme, authority and path, computed once per options instance rather than per call.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Uri, string> BasePrefixes = [];

    public static string ClientName(string vendor) => "keybrake-vendor-" + vendor;

    /// <summary>Every secret the vendor needs for <paramref name="tenant"/>, or the name of the first that is missing or unreadable.</summary>
    public async Task<(Dictionary<string, string>? Values, string? Missing)> ReadSecretsAsync(VendorDefinition vendor, string tenant, CancellationToken cancellationToken)
    {
        var values = new Dictionary<string, string>(vendor.SecretNames.Count, StringComparer.Ordinal);
        foreach (string name in vendor.SecretNames)
        {
            string? value;
            try
            {
                value = await secrets.GetAsync(name, tenant, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogSecretUnavailable(logger, name, e.GetType().Name);
                value = null;
            }

            if (value is null)
            {
                return (null, name);
            }

            values[name] = value;
        }

        return (values, null);
    }

    /// <summary>A request to the vendor's configured base URL plus the authorised path and the untouched query.</summary>
    public HttpRequestMessage Request(VendorDefinition vendor, HttpMethod method, UpstreamAuthorization auth, string? query)
    {
        var request = new HttpRequestMessage(method, UpstreamUri(endpoints.Get(vendor.Name).BaseUrl ?? vendor.DefaultBaseUrl, auth.Segments, query));
        request.Headers.TryAddWithoutValidation("Authorization", auth.AuthorizationHeader);
        return request;
    }

    /// <summary>
    /// The agent's call as it goes to the vendor: real credentials, the (possibly tagged) body, and the request headers
    /// the vendor definition allows.
    /// </summary>
    public HttpRequestMessage ProxiedRequest(
        Microsoft.AspNetCore.Http.HttpRequest incoming, VendorDefinition vendor, Domain.Proxy.ProxyCall call, ReadOnlyMemory<byte> body, UpstreamAuthorization auth)
    {
        HttpRequestMessage upstream = Request(vendor, HttpMethod.Parse(call.Method), auth, incoming.QueryString.Value);
        if (!body.IsEmpty || call.Method is "POST" or "PUT" or "PATCH")
        {
            upstream.Content = new ReadOnlyMemoryContent(body);
        }

        ForwardedHeaders.CopyToUpstream(incoming.Headers, upstream, vendor.ForwardedRequestHeaders);
        return upstream;
    }

    /// <summary>The vendor says it answered from an earlier call with the same Idempotency-Key.</summary>
    public static bool Replayed(VendorDefinition vendor, HttpResponseMessage response) =>
        vendor.ReplayedHeader is string header && response.Headers.TryGetValues(header, out IEnumerable<string>? values) &&
        values.Any(v => string.Equals(v, "true", StringComparison.OrdinalIgnoreCase));

    public static string? RequestId(VendorDefinition vendor, HttpResponseMessage response) =>
        response.Headers.TryGetValues(vendor.RequestIdHeader, out IEnumerable<string>? ids) ? ids.FirstOrDefault() : null;

    /// <summary>A cancellation that fires at the endpoint's timeout or when <paramref name="cancellationToken"/> does.</summary>
    public UpstreamDeadline Deadline(VendorDefinition vendor, CancellationToken cancellationToken) =>
        new(TimeSpan.FromSeconds(endpoints.Get(vendor.Name).TimeoutSeconds), cancellationToken);

    /// <summary>Sends on the vendor's named client; a 401 means the vendor refused the tenant's secret, which may have been rotated: it is read afresh next time.</summary>
    public async Task<HttpResponseMessage> SendAsync(
        VendorDefinition vendor, string tenant, HttpRequestMessage request, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        HttpResponseMessage response = await httpClients.CreateClient(ClientName(vendor.Name)).SendAsync(request, completion, cancellationToken);
        if (response.StatusCode == System.Net.HttpStatusCode.Unauthorized)
        {
            foreach (string name in vendor.SecretNames)
            {
                secrets.Invalidate(name, tenant);
            }
        }

        return response;
    }

    /// <summary>
    /// The configured base URL plus the normalised path and the untouched query. Built by concatenation,
    /// never by resolving a relative reference, and checked: nothing in a request can pick another host.
    /// </summary>
    public static Uri UpstreamUri(Uri baseUrl, IReadOnlyList<string> segments, string? query)
    {
        string prefix = BasePrefixes.GetValue(baseUrl, b => b.GetLeftPart(UriPartial.Authority) + b.AbsolutePath.TrimEnd('/'));
        var target = new Uri(prefix + Domain.Proxy.PathNormalizer.Encode(segments) + query, UriKind.Absolute);
        if (target.Scheme != baseUrl.Scheme || target.IdnHost != baseUrl.IdnHost || target.Port != baseUrl.Port || !string.IsNullOrEmpty(target.UserInfo))
        {
            throw new InvalidOperationException("The upstream URL left the configured vendor host.");
        }

        return target;
    }

    [LoggerMessage(EventId = 2004, Level = LogLevel.Error, Message = "Secret {SecretName} could not be read ({ErrorType})")]
    private static partial void LogSecretUnavailable(ILogger logger, string secretName, string errorType);
}

/// <summary>The endpoint's timeout linked with the caller's cancellation; tells a timeout from the caller going away.</summary>
public sealed class UpstreamDeadline : IDisposable
{
    private readonly CancellationTokenSource _linked;
    private readonly CancellationToken _caller;

    public UpstreamDeadline(TimeSpan timeout, CancellationToken caller)
    {
        _caller = caller;
        _linked = CancellationTokenSource.CreateLinkedTokenSource(caller);
        _linked.CancelAfter(timeout);
    }

    public CancellationToken Token => _linked.Token;

    /// <summary>The endpoint's timeout fired, not the caller's cancellation.</summary>
    public bool TimedOut => _linked.IsCancellationRequested && !_caller.IsCancellationRequested;

    public void Dispose() => _linked.Dispose();
}
