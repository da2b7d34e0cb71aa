using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Azure.Storage.Queues;
using Keybrake.Domain.Work;

namespace Keybrake.Infrastructure.Queues;

/// <summary>
/// Work items on Azure Storage queues (the <c>AzureWebJobsStorage</c> account, where the Functions host's queue triggers
/// listen). Messages are base64 JSON, the queue trigger's default encoding. A missing queue is created on first use.
/// </summary>
public sealed class StorageWorkQueue(QueueServiceClient service) : IWorkQueue
{
    // Queues this process has made sure exist: racing first uses both create, harmlessly; a failed create is tried again.
    private readonly ConcurrentDictionary<string, QueueClient> _queues = new(StringComparer.Ordinal);

    public async Task EnqueueAsync(string queue, WorkBatch batch, CancellationToken cancellationToken)
    {
        QueueClient client = await ClientAsync(queue, cancellationToken);
        await client.SendMessageAsync(Serialize(batch), cancellationToken);
    }

    /// <summary>The queue's client, the queue created on this process's first use (one request then, none later).</summary>
    public async Task<QueueClient> ClientAsync(string queue, CancellationToken cancellationToken)
    {
        if (_queues.TryGetValue(queue, out QueueClient? known))
        {
            return known;
        }

        QueueClient client = service.GetQueueClient(queue);
        await client.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
        return _queues.GetOrAdd(queue, client);
    }

    public static string Serialize(WorkBatch batch) => JsonSerializer.Serialize(
        new Message(batch.Kind, [.. batch.Items.Select(i => new Item(i.Tenant, i.Day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), i.DirtyVersion))]), Options);

    /// <summary>A work item from a message's text; <see cref="FormatException"/> when it is not one (it then ends in the poison queue).</summary>
    public static WorkBatch Deserialize(string text)
    {
        Message message;
        try
        {
            message = JsonSerializer.Deserialize<Message>(text, Options) ?? throw new FormatException("The work item is null.");
        }
        catch (JsonException e)
        {
            throw new FormatException("The work item is not JSON of the expected shape.", e);
        }

        return new WorkBatch(message.Kind, [.. (message.Items ?? []).Select(i => new WorkTenantDay(
            i.Tenant, DateOnly.ParseExact(i.Day, "yyyy-MM-dd", CultureInfo.InvariantCulture), i.Dirty))]);
    }

    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private sealed record Message(string Kind, IReadOnlyList<Item>? Items);

    private sealed record Item(string Tenant, string Day, string? Dirty);
}
