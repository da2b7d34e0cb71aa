using Azure.Identity;
using Microsoft.ApplicationInsights.Extensibility;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Keybrake.Functions.Composition;

/// <summary>
/// Application Insights for the worker, only where a connection string is configured. Local runs have none
/// and log to the console through the host. The SDK is pinned to 2.x: the Functions worker package is built
/// against it, and the 3.x SDK made the worker crash before it served anything.
/// </summary>
public static class TelemetryServiceCollectionExtensions
{
    public const string ConnectionStringSetting = "APPLICATIONINSIGHTS_CONNECTION_STRING";
    public const string AuthenticationStringSetting = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING";

    public static IServiceCollection AddKeybrakeTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        if (string.IsNullOrWhiteSpace(configuration[ConnectionStringSetting]))
        {
            return services;
        }

        services.AddApplicationInsightsTelemetryWorkerService().ConfigureFunctionsApplicationInsights();

        // The component has local (instrumentation key) auth disabled: telemetry is accepted only with a token of
        // the app's managed identity, named by the same setting the host reads ("ClientId=...;Authorization=AAD").
        string? clientId = ManagedIdentityClientId(configuration[AuthenticationStringSetting]);
        if (clientId is not null)
        {
            services.Configure<TelemetryConfiguration>(telemetry =>
                telemetry.SetAzureTokenCredential(new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(clientId))));
        }

        // The SDK adds a rule that keeps only warnings; our Information logs matter.
        services.Configure<LoggerFilterOptions>(options =>
        {
            LoggerFilterRule? defaultRule = options.Rules.FirstOrDefault(rule =>
                rule.ProviderName == "Microsoft.Extensions.Logging.ApplicationInsights.ApplicationInsightsLoggerProvider");
            if (defaultRule is not null)
            {
                options.Rules.Remove(defaultRule);
            }
        });
        return services;
    }

    /// <summary>The client id in <c>ClientId=...;Authorization=AAD</c>, or null when the string asks for no Entra auth.</summary>
    public static string? ManagedIdentityClientId(string? authenticationString)
    {
        if (string.IsNullOrWhiteSpace(authenticationString))
        {
            return null;
        }

        Dictionary<string, string> parts = authenticationString
            .Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(part => part.Split('=', 2, StringSplitOptions.TrimEntries))
            .Where(pair => pair.Length == 2)
            .GroupBy(pair => pair[0], StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => g.Last()[1], StringComparer.OrdinalIgnoreCase);
        return parts.TryGetValue("Authorization", out string? authorization)
            && string.Equals(authorization, "AAD", StringComparison.OrdinalIgnoreCase)
            && parts.TryGetValue("ClientId", out string? clientId) && clientId.Length > 0
                ? clientId
                : null;
    }
}
