using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;

namespace Keybrake.Tests.Support;

/// <summary>Counts the storage requests a table client sends (each retry too): costs are asserted as counts, never timed.</summary>
public sealed class StorageRequestCounter : HttpPipelineSynchronousPolicy
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _sent = new();
    private int _count;

    public int Count => Volatile.Read(ref _count);

    /// <summary>The requests counted since the last reset (method and path), to say what a failed count was made of.</summary>
    public string Sent => string.Join("; ", _sent);

    public void Reset()
    {
        Interlocked.Exchange(ref _count, 0);
        _sent.Clear();
    }

    public override void OnSendingRequest(HttpMessage message)
    {
        Interlocked.Increment(ref _count);
        _sent.Enqueue(message.Request.Method + " " + Uri.UnescapeDataString(message.Request.Uri.Path));
    }

    /// <summary>A table service client on the test Azurite whose requests this counts.</summary>
    public TableServiceClient Client()
    {
        var options = new TableClientOptions();
        options.AddPolicy(this, HttpPipelinePosition.PerRetry);
        return new TableServiceClient(TestStorage.ConnectionString, options);
    }
}
