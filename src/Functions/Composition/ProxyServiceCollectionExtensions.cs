using System.Net;
using Keybrake.Domain.Caps;
using Keybrake.Domain.Pricing;
using Keybrake.Domain.Proxy;
using Keybrake.Domain.Reconciliation;
using Keybrake.Domain.Vendors;
using Keybrake.Functions.Proxy;
using Keybrake.Infrastructure.Http;
using Keybrake.Infrastructure.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;

namespace Keybrake.Functions.Composition;

/// <summary>The proxy's wiring: vendors, pricing, the policy gate, and one outbound client per vendor.</summary>
public static class ProxyServiceCollectionExtensions
{
    public static IServiceCollection AddKeybrakeProxy(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<PricingOptions>().Bind(configuration.GetSection("Pricing"))
            .Validate(o => o.FxToUsd.Values.All(rate => rate > 0) && o.TwilioPricePerSegmentUsd >= 0 && o.TwilioPricePerMediaMessageUsd >= 0 && o.ResendPricePerEmailUsd >= 0,
                "Pricing: FX rates must be positive and prices not negative.")
            .ValidateOnStart();
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<PricingOptions>>().Value);
        services.TryAddSingleton<Currencies>();

        services.AddSingleton<VendorDefinition, StripeVendor>();
        services.AddSingleton<VendorDefinition, TwilioVendor>();
        services.AddSingleton<VendorDefinition, ResendVendor>();
        services.TryAddSingleton<VendorRegistry>();

        services.AddOptions<ProxyOptions>().Bind(configuration.GetSection("Proxy"))
            .Validate(o => o.KeyCacheMilliseconds is >= 0 and <= 2000, "Proxy__KeyCacheMilliseconds must be 0-2000: revocation must reach every instance within 2 s.")
            .Validate(o => o.BudgetCacheMilliseconds is >= 0 and <= 60_000, "Proxy__BudgetCacheMilliseconds must be 0-60000.")
            .Validate(o => o.LoopMaxCalls >= 1 && o.LoopWindowSeconds is >= 1 and <= 86_400, "Proxy__LoopMaxCalls must be >= 1 and Proxy__LoopWindowSeconds 1-86400.")
            .ValidateOnStart();
        services.TryAddSingleton(sp => new VaultKeyCache(
            sp.GetRequiredService<Domain.Keys.IVaultKeyStore>(), sp.GetRequiredService<TimeProvider>(),
            TimeSpan.FromMilliseconds(sp.GetRequiredService<IOptions<ProxyOptions>>().Value.KeyCacheMilliseconds)));
        services.TryAddSingleton<IBudgetStore, TableBudgetStore>();
        services.TryAddSingleton<BudgetService>();
        services.TryAddSingleton<ICapPolicyStore, TableCapPolicyStore>();
        services.TryAddSingleton<CapPolicyService>();
        services.TryAddSingleton(sp => new CapPlanner(
            sp.GetRequiredService<IBudgetStore>(), sp.GetRequiredService<TimeProvider>(),
            TimeSpan.FromMilliseconds(sp.GetRequiredService<IOptions<ProxyOptions>>().Value.BudgetCacheMilliseconds)));
        services.TryAddSingleton<ProxyGate>();
        services.TryAddSingleton<VendorHttp>();
        services.TryAddSingleton<CallAccounting>();
        services.TryAddSingleton<ProxyPipeline>();
        services.TryAddSingleton<StripeHostSurface>();
        services.TryAddSingleton<IVendorLookup, VendorLookup>();
        services.TryAddSingleton<VendorLookup>();
        services.TryAddSingleton<ObjectOwnershipCache>();
        services.TryAddSingleton<IObjectOwnershipStore, TableObjectOwnership>();
        services.TryAddSingleton<ObjectOwnershipGuard>();
        services.TryAddSingleton<Reconciler>();
        services.TryAddSingleton<InDoubtResolver>();
        services.TryAddSingleton<ConsistencyCheck>();

        foreach (string vendor in new[] { "stripe", "twilio", "resend" })
        {
            services.AddOptions<VendorEndpointOptions>(vendor)
                .Bind(configuration.GetSection($"Vendors:{vendor}"))
                .Validate(o => o.BaseUrl is null || (o.BaseUrl.IsAbsoluteUri && o.BaseUrl.Scheme is "https" or "http" && string.IsNullOrEmpty(o.BaseUrl.Query)),
                    $"Vendors__{vendor}__BaseUrl must be an absolute http(s) URL without a query.")
                .Validate(o => o.TimeoutSeconds is >= 1 and <= 300, $"Vendors__{vendor}__TimeoutSeconds must be 1-300.")
                .ValidateOnStart();
            AddVendorClient(services, vendor);
        }

        return services;
    }

    private static void AddVendorClient(IServiceCollection services, string vendor)
    {
        services.AddHttpClient(VendorHttp.ClientName(vendor), client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                // A proxy passes answers on as they are: no redirects followed, no cookies kept, no decompression.
                AllowAutoRedirect = false,
                UseCookies = false,
                AutomaticDecompression = DecompressionMethods.None,
                UseProxy = false,
                ConnectTimeout = TimeSpan.FromSeconds(10),
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            })
            .AddResilienceHandler("vendor-retry", pipeline => pipeline.AddRetry(new HttpRetryStrategyOptions
            {
                MaxRetryAttempts = 2,
                Delay = TimeSpan.FromMilliseconds(200),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                ShouldRetryAfterHeader = false,
                ShouldHandle = args => ValueTask.FromResult(ShouldRetry(args.Outcome, args.Context.GetRequestMessage())),
            }));
    }

    /// <summary>
    /// Retry only what cannot double a charge or hold an agent hostage: a connection that never opened
    /// (nothing was sent), or a gateway error on a read. Rate limits (429) and everything else go back to
    /// the agent, whose vendor SDK has its own retry policy; stacking a second one would multiply waits.
    /// </summary>
    private static bool ShouldRetry(Outcome<HttpResponseMessage> outcome, HttpRequestMessage? request)
    {
        if (outcome.Exception is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError })
        {
            return true;
        }

        bool read = request is not null && (request.Method == HttpMethod.Get || request.Method == HttpMethod.Head);
        return read && outcome.Result?.StatusCode is HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout;
    }
}
