using Keybrake.Domain.Export;
using Keybrake.Infrastructure.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Keybrake.Functions.Composition;

/// <summary>The chargeback export's wiring: tenants' billing customers.</summary>
public static class ExportServiceCollectionExtensions
{
    public static IServiceCollection AddKeybrakeExport(this IServiceCollection services, IConfiguration configuration)
    {
        services.TryAddSingleton<ITenantBillingStore, TableTenantBillingStore>();
        services.TryAddSingleton<TenantBillingService>();
        return services;
    }
}
