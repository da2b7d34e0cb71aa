using System.Net;
using Keybrake.Domain.Export;
using Keybrake.Infrastructure.Http;
using Keybrake.Infrastructure.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Keybrake.Functions.Composition;

/// <summary>The chargeback export's wiring: tenants' billing customers, the outbox, the meter and its client.</summary>
public static class ExportServiceCollectionExtensions
{
    public static IServiceCollection AddKeybrakeExport(this IServiceCollection services, IConfiguration configuration)
    {
        string targets = string.Join(", ", MeterFormat.All.Select(m => m.Target).Append(ExportOptions.None));
        services.AddOptions<ExportOptions>().Bind(configuration.GetSection("Export"))
            .Validate(o => o.Target == ExportOptions.None || MeterFormat.For(o.Target) is not null, $"Export__Target must be one of {targets}.")
            .Validate(o => o.BaseUrl is null || (o.BaseUrl.IsAbsoluteUri && o.BaseUrl.Scheme is "https" or "http" && string.IsNullOrEmpty(o.BaseUrl.Query)),
                "Export__BaseUrl must be an absolute http(s) URL without a query.")
            .Validate(o => o.EventName.Length is > 0 and <= 100 && o.EventName.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'),
                "Export__EventName must be 1-100 letters, digits, '_', '-' or '.'.")
            .Validate(o => o.TimeoutSeconds is >= 1 and <= 300, "Export__TimeoutSeconds must be 1-300.")
            .ValidateOnStart();
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<ExportOptions>>().Value);

        services.TryAddSingleton<ITenantBillingStore>(sp => sp.GetRequiredService<TableTenantDirectory>());
        services.TryAddSingleton<TenantBillingService>();
        services.TryAddSingleton<IExportOutbox, TableExportOutbox>();
        services.TryAddSingleton<IMeterSender, HttpMeterSender>();
        services.TryAddSingleton<ExportService>();

        services.AddHttpClient(HttpMeterSender.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                // The meter key goes only where Export__BaseUrl points: never follow a redirect elsewhere with it.
                AllowAutoRedirect = false,
                UseCookies = false,
                AutomaticDecompression = DecompressionMethods.All,
                UseProxy = false,
                ConnectTimeout = TimeSpan.FromSeconds(10),
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            });
        return services;
    }
}
