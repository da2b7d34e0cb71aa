using Keybrake.Domain.Keys;
using Keybrake.Domain.Vendors;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace Keybrake.Functions.Proxy;

/// <summary>
/// Stripe at the app's root, for SDKs that take only a host (stripe-node: <c>host</c>, <c>port</c>,
/// <c>protocol</c>, no path), so they call <c>/v1/…</c> where the operator API also lives (both have
/// <c>/v1/tokens</c>). The rule, checked on every <c>/v1/…</c> route: a request is a Stripe call when it
/// bears a vault key where Stripe puts its secret (Bearer, or Basic user), or arrives on a host name in
/// <c>Proxy__StripeHostNames</c>. A vault key is never an operator token, so nothing an operator sends
/// can be taken for a Stripe call, and nothing an agent sends can reach the operator API.
/// </summary>
public sealed class StripeHostSurface(ProxyPipeline pipeline, VendorRegistry vendors, IOptionsMonitor<ProxyOptions> options)
{
    public const string VendorName = "stripe";
    private const string ProxyPrefix = "/proxy/" + VendorName;

    /// <summary>Whether this request is a Stripe call to be proxied rather than an operator request.</summary>
    public bool Claims(HttpRequest request)
    {
        VendorDefinition stripe = vendors.Find(VendorName)
            ?? throw new InvalidOperationException("The stripe vendor is not registered.");
        return VaultKeySecret.LooksLikeVaultKey(stripe.ReadVaultKey(request.Headers.Authorization))
            || IsStripeHost(request.Host.Host, options.CurrentValue.StripeHostNames);
    }

    /// <summary>
    /// Runs the call through the same pipeline as <c>/proxy/stripe/…</c>. The pipeline reads the vendor path
    /// from the raw request target under <c>/proxy/{vendor}</c>; the target is rewritten to that form (as a
    /// server-side URL rewrite would) so the path checks, allowlist match, audit row and upstream URL are
    /// exactly those of the <c>/proxy</c> route, without a second way into the pipeline.
    /// </summary>
    public Task ForwardAsync(HttpContext context, CancellationToken cancellationToken)
    {
        IHttpRequestFeature? target = context.Features.Get<IHttpRequestFeature>();
        if (target is not null && target.RawTarget is { Length: > 0 } raw && raw.StartsWith('/'))
        {
            target.RawTarget = ProxyPrefix + raw;
        }

        // Also the decoded path, which the pipeline falls back to when a server gives no raw target; any other
        // target form is left as it is, and the pipeline refuses it as it does on /proxy.
        context.Request.Path = new PathString(ProxyPrefix).Add(context.Request.Path);
        return pipeline.HandleAsync(context, VendorName, cancellationToken);
    }

    private static bool IsStripeHost(string host, string? configured)
    {
        if (string.IsNullOrEmpty(configured) || string.IsNullOrEmpty(host))
        {
            return false;
        }

        foreach (string name in configured.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (string.Equals(name, host, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
