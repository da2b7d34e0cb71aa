namespace Keybrake.Domain.Common;

/// <summary>Work over many storage partitions with a cap on how much is in flight, so a report over thousands of
/// tenant-days queues its reads instead of opening them all at once (which timed out storage requests).</summary>
public static class Bounded
{
    /// <summary>Runs <paramref name="work"/> for every item, at most <paramref name="maxInFlight"/> at once; results in item order.</summary>
    public static async Task<TResult[]> SelectAsync<T, TResult>(
        IReadOnlyList<T> items, int maxInFlight, Func<T, CancellationToken, Task<TResult>> work, CancellationToken cancellationToken)
    {
        var results = new TResult[items.Count];
        await Parallel.ForEachAsync(
            Enumerable.Range(0, items.Count),
            new ParallelOptions { MaxDegreeOfParallelism = maxInFlight, CancellationToken = cancellationToken },
            async (i, token) => results[i] = await work(items[i], token));
        return results;
    }
}
