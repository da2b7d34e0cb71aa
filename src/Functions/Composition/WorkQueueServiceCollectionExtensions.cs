using Azure.Identity;
using Azure.Storage.Queues;
using Keybrake.Domain.Work;
using Keybrake.Infrastructure.Queues;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Keybrake.Functions.Composition;

/// <summary>The fan-out's wiring: the work queues, in the account the Functions host's queue triggers listen on.</summary>
public static class WorkQueueServiceCollectionExtensions
{
    public static IServiceCollection AddKeybrakeWorkQueues(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<WorkQueueOptions>().Bind(configuration.GetSection("Queues"))
            .PostConfigure<IOptions<Infrastructure.Storage.TableOptions>>((o, tables) =>
            {
                // Unset (a process started without them, e.g. by a test): named after the table prefix, so two deployments
                // sharing an account never take each other's work. The Functions host still needs the settings to listen.
                string prefix = tables.Value.Prefix.ToLowerInvariant();
                o.Reconcile = string.IsNullOrEmpty(o.Reconcile) ? prefix + "-reconcile" : o.Reconcile;
                o.Nightly = string.IsNullOrEmpty(o.Nightly) ? prefix + "-nightly" : o.Nightly;
            })
            .Validate(o => WorkQueueOptions.IsValidName(o.Reconcile) && WorkQueueOptions.IsValidName(o.Nightly) && o.Reconcile != o.Nightly,
                "Queues__Reconcile and Queues__Nightly must be two different queue names (3-63 lowercase letters, digits, single hyphens); " +
                "the queue-triggered functions listen on them, and the Functions host requires them set.")
            .ValidateOnStart();
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<WorkQueueOptions>>().Value);
        services.TryAddSingleton(_ => CreateClient(configuration));
        services.TryAddSingleton<StorageWorkQueue>();
        services.TryAddSingleton<IWorkQueue>(sp => sp.GetRequiredService<StorageWorkQueue>());
        services.TryAddSingleton<IIndexBackfillStore, Infrastructure.Storage.TableIndexBackfill>();
        services.TryAddSingleton<IndexBackfill>();
        services.TryAddSingleton<FanOutWork>();
        return services;
    }

    /// <summary>
    /// The queue service of <c>AzureWebJobsStorage</c>, the connection the queue triggers use: a connection string locally,
    /// or <c>AzureWebJobsStorage__queueServiceUri</c> with the managed identity in Azure. Messages are base64, as the triggers expect.
    /// </summary>
    public static QueueServiceClient CreateClient(IConfiguration configuration, Action<QueueClientOptions>? configure = null)
    {
        var options = new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 };
        options.Retry.MaxRetries = 3;
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(30);
        configure?.Invoke(options);
        string? connection = configuration["AzureWebJobsStorage"];
        if (!string.IsNullOrEmpty(connection))
        {
            return new QueueServiceClient(connection, options);
        }

        Uri endpoint = Uri.TryCreate(configuration["AzureWebJobsStorage:queueServiceUri"], UriKind.Absolute, out Uri? uri) ? uri
            : throw new InvalidOperationException("Set AzureWebJobsStorage (locally: UseDevelopmentStorage=true) or AzureWebJobsStorage__queueServiceUri (Azure, managed identity).");
        return new QueueServiceClient(endpoint, new DefaultAzureCredential(), options);
    }
}
