using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;

namespace Keybrake.Tests.Support;

/// <summary>
/// Counts the storage requests a table client sends (each retry too), and the most it had in flight at once: costs
/// are asserted as counts, never timed.
/// </summary>
public sealed class StorageRequestCounter : HttpPipelinePolicy
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _sent = new();
    private int _count;
    private int _inFlight;
    private int _maxInFlight;

    public int Count => Volatile.Read(ref _count);

    /// <summary>The requests counted since the last reset (method and path), to say what a failed count was made of.</summary>
    public string Sent => string.Join("; ", _sent);

    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    /// <summary>How many of the requests since the last reset went to this table.</summary>
    public int To(string table) => _sent.Count(r => r.Split(' ')[1].Split('/')[1].Split('(')[0] == table);

    public void Reset()
    {
        Interlocked.Exchange(ref _count, 0);
        Interlocked.Exchange(ref _maxInFlight, 0);
        _sent.Clear();
    }

    public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        Record(message);
        try
        {
            await ProcessNextAsync(message, pipeline);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        Record(message);
        try
        {
            ProcessNext(message, pipeline);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private void Record(HttpMessage message)
    {
        Interlocked.Increment(ref _count);
        _sent.Enqueue(message.Request.Method + " " + Uri.UnescapeDataString(message.Request.Uri.Path));
        int now = Interlocked.Increment(ref _inFlight);
        for (int max = MaxInFlight; now > max && Interlocked.CompareExchange(ref _maxInFlight, now, max) != max; max = MaxInFlight)
        {
        }
    }

    /// <summary>A table service client on the test Azurite whose requests this counts.</summary>
    public TableServiceClient Client()
    {
        var options = new TableClientOptions();
        options.AddPolicy(this, HttpPipelinePosition.PerRetry);
        return new TableServiceClient(TestStorage.ConnectionString, options);
    }
}
