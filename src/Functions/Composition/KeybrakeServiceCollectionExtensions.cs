using System.Globalization;
using Azure.Core;
using Azure.Data.Tables;
using Azure.Identity;
using Keybrake.Domain.Activity;
using Keybrake.Domain.Audit;
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
        services.AddOptions<ReportOptions>()
            .Bind(configuration.GetSection("Reports"))
            .Validate(o => o.MaxStorageRequestsInFlight is >= 1 and <= 1000, "Reports__MaxStorageRequestsInFlight must be 1-1000.")
            .ValidateOnStart();
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<ReportOptions>>().Value);

        TimeSpan storageNetworkTimeout = StorageNetworkTimeout(configuration);
        services.TryAddSingleton(sp =>
        {
            TableOptions options = sp.GetRequiredService<IOptions<TableOptions>>().Value;
            var clientOptions = new TableClientOptions();

            // The proxy waits on storage before every call: fail within seconds, not after the SDK's long default backoff.
            clientOptions.Retry.MaxRetries = 2;
            clientOptions.Retry.Delay = TimeSpan.FromMilliseconds(100);
            clientOptions.Retry.MaxDelay = TimeSpan.FromSeconds(1);
            clientOptions.Retry.NetworkTimeout = storageNetworkTimeout;
            var healer = new MissingTableHealer();
            clientOptions.AddPolicy(healer, HttpPipelinePosition.PerCall);
            TableServiceClient client = string.IsNullOrEmpty(options.ConnectionString)
                ? new TableServiceClient(options.ServiceUri, new DefaultAzureCredential(), clientOptions)
                : new TableServiceClient(options.ConnectionString, clientOptions);
            healer.Attach(client, options.Prefix);
            return client;
        });
        services.TryAddSingleton(sp => new KeybrakeTables(
            sp.GetRequiredService<TableServiceClient>(), sp.GetRequiredService<IOptions<TableOptions>>().Value));
        services.TryAddSingleton<TableTenantDirectory>();
        services.TryAddSingleton<IVaultKeyStore, TableVaultKeyStore>();
        services.TryAddSingleton<IOperatorTokenStore, TableOperatorTokenStore>();
        services.TryAddSingleton<IOperatorAuditLog, TableOperatorAuditLog>();
        services.TryAddSingleton<OperatorAuditService>();
        AddSecrets(services, configuration);
        services.TryAddSingleton<TableReservationLedger>();
        services.TryAddSingleton<IActivityIndex, TableActivityIndex>();
        services.TryAddSingleton<IReservationLedger>(sp => new ActivityRecordingAuditLog(sp.GetRequiredService<TableReservationLedger>(), sp.GetRequiredService<IActivityIndex>()));
        services.TryAddSingleton<TableAuditReader>();
        services.TryAddSingleton<IAuditReader>(sp => sp.GetRequiredService<TableAuditReader>());
        services.TryAddSingleton<AuditQueryService>();
        services.TryAddSingleton<SpendQueryService>();
        services.TryAddSingleton<IRollupStore, TableRollupStore>();
        services.TryAddSingleton<IMonthRollupStore, TableMonthRollupStore>();
        services.TryAddSingleton<RollupService>();

        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<KeyLimits>>().Value);
        services.TryAddSingleton<KeyService>();
        services.TryAddSingleton<OperatorTokenService>();
        services.TryAddSingleton<OperatorAuthenticator>();
        services.TryAddSingleton<OperatorEndpoint>();

        services.AddKeybrakeProxy(configuration);
        services.AddKeybrakeAlerts(configuration);
        services.AddKeybrakeExport(configuration);
        services.AddKeybrakeWorkQueues(configuration);
        return services;
    }

    /// <summary>
    /// How long one storage request may hang before the table client gives up on it (and retries, twice): a
    /// hanging storage account answers every call 503 after three of these. <c>Tables__NetworkTimeoutSeconds</c>,
    /// 1-300, default 10.
    /// </summary>
    private static TimeSpan StorageNetworkTimeout(IConfiguration configuration)
    {
        string? value = configuration["Tables:NetworkTimeoutSeconds"];
        if (string.IsNullOrEmpty(value))
        {
            return TimeSpan.FromSeconds(10);
        }

        return int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int seconds) && seconds is >= 1 and <= 300
            ? TimeSpan.FromSeconds(seconds)
            : throw new InvalidOperationException($"Tables__NetworkTimeoutSeconds must be 1-300 (seconds), not '{value}'.");
    }

    /// <summary>Key Vault when <c>KeyVault__Uri</c> is set (managed identity in Azure), else configuration values.</summary>
    private static void AddSecrets(IServiceCollection services, IConfiguration configuration)
    {
        string? keyVaultUri = configuration["KeyVault:Uri"];
        if (!string.IsNullOrEmpty(keyVaultUri))
        {
            services.AddOptions<KeyVaultSecretOptions>()
                .Bind(configuration.GetSection("KeyVault"))
                .Validate(o => o.CacheDuration > TimeSpan.Zero && o.FailureRetryInterval > TimeSpan.Zero,
                    "KeyVault__CacheDuration and KeyVault__FailureRetryInterval must be positive.")
                .ValidateOnStart();
            services.TryAddSingleton(_ => KeyVaultSecretProvider.CreateClient(new Uri(keyVaultUri, UriKind.Absolute)));
            services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<KeyVaultSecretOptions>>().Value);
            services.TryAddSingleton<ISecretProvider, KeyVaultSecretProvider>();
        }

        services.TryAddSingleton<ISecretProvider, ConfigurationSecretProvider>();
    }
}
