using Keybrake.Domain.Alerts;
using Keybrake.Infrastructure.Http;
using Keybrake.Infrastructure.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Keybrake.Functions.Composition;

/// <summary>Alerts: budget thresholds, the durable delivery queue and the signed webhook.</summary>
public static class AlertServiceCollectionExtensions
{
    public static IServiceCollection AddKeybrakeAlerts(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<AlertOptions>().Bind(configuration.GetSection("Alerts"))
            .Validate(o => string.IsNullOrWhiteSpace(o.WebhookUrl) || (Uri.TryCreate(o.WebhookUrl, UriKind.Absolute, out Uri? url) && url.Scheme is "https" or "http"),
                "Alerts__WebhookUrl must be an absolute http(s) URL.")
            .Validate(o => o.TimeoutSeconds is >= 1 and <= 120, "Alerts__TimeoutSeconds must be 1-120.")
            .ValidateOnStart();
        services.TryAddSingleton<IAlertStore, TableAlertStore>();
        services.TryAddSingleton<IAlertSender, WebhookAlertSender>();
        services.TryAddSingleton<BudgetAlerts>();
        services.TryAddSingleton<AlertDelivery>();
        services.TryAddSingleton<AlertQueryService>();
        services.AddHttpClient(WebhookAlertSender.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false, ConnectTimeout = TimeSpan.FromSeconds(10) });
        return services;
    }
}
