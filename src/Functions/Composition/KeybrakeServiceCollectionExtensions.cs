using Azure.Data.Tables;
using Azure.Identity;
using Keybrake.Domain.Keys;
using Keybrake.Domain.Operators;
using Keybrake.Domain.Secrets;
using Keybrake.Functions.Http;
using Keybrake.Infrastructure.Secrets;
using Keybrake.Infrastructure.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Keybrake.Functions.Composition;

/// <summary>The one composition root: the Functions host, the development host and the tests all call this.</summary>
public static class KeybrakeServiceCollectionExtensions
{
    public static IServiceCollection AddKeybrake(this IServiceCollection services, IConfiguration configuration)
    {
        services.TryAddSingleton(TimeProvider.System);

        services.AddOptions<TableOptions>()
            .Bind(configuration.GetSection("Tables"))
            .Validate(o => !string.IsNullOrEmpty(o.ConnectionString) || o.ServiceUri is not null,
                "Set Tables__ConnectionString (locally: UseDevelopmentStorage=true) or Tables__ServiceUri (Azure, managed identity).")
            .Validate(o => o.Prefix.All(char.IsAsciiLetterOrDigit) && o.Prefix.Length is > 0 and <= 20 && char.IsAsciiLetter(o.Prefix[0]),
                "Tables__Prefix must be 1-20 letters and digits, starting with a letter.")
            .ValidateOnStart();
        services.AddOptions<KeyLimits>().Bind(configuration.GetSection("Keys")).ValidateOnStart();

        services.TryAddSingleton(sp =>
        {
            TableOptions options = sp.GetRequiredService<IOptions<TableOptions>>().Value;
            return string.IsNullOrEmpty(options.ConnectionString)
                ? new TableServiceClient(options.ServiceUri, new DefaultAzureCredential())
                : new TableServiceClient(options.ConnectionString);
        });
        services.TryAddSingleton(sp => new KeybrakeTables(
            sp.GetRequiredService<TableServiceClient>(), sp.GetRequiredService<IOptions<TableOptions>>().Value));
        services.TryAddSingleton<IVaultKeyStore, TableVaultKeyStore>();
        services.TryAddSingleton<IOperatorTokenStore, TableOperatorTokenStore>();
        services.TryAddSingleton<ISecretProvider, ConfigurationSecretProvider>();

        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<KeyLimits>>().Value);
        services.TryAddSingleton<KeyService>();
        services.TryAddSingleton<OperatorTokenService>();
        services.TryAddSingleton<OperatorAuthenticator>();
        services.TryAddSingleton<OperatorEndpoint>();
        return services;
    }
}
