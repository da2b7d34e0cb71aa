using System.Globalization;

namespace Keybrake.Domain.Caps;

/// <summary>
/// The loop breaker's window as call counts per time bucket (a sixtieth of the window each: a second of the default
/// 60 s), so what is stored stays about a kilobyte whatever <c>loop_max_calls</c> is: at most <see cref="BucketsKept"/>
/// "bucket:count" pairs, never one entry per call. A call counts against the buckets that overlap the last window, so
/// a call up to one bucket older than the window may still count: the breaker can trip that much early, never late.
/// </summary>
public static class LoopWindow
{
    public const int BucketsPerWindow = 60;

    /// <summary>The current bucket and the ones that overlap the window before it.</summary>
    public const int BucketsKept = BucketsPerWindow + 1;

    /// <summary>
    /// Counts one more call at <paramref name="now"/> in <paramref name="stored"/> (null or empty: none yet). Returns
    /// whether the window already holds <paramref name="maxCalls"/> calls (then nothing is counted) and the window to
    /// store, with buckets that left the window dropped.
    /// </summary>
    public static (bool Tripped, string Stored) Add(string? stored, DateTimeOffset now, TimeSpan window, int maxCalls)
    {
        long bucketMs = Math.Max(1, (long)window.TotalMilliseconds / BucketsPerWindow);
        long current = now.ToUnixTimeMilliseconds() / bucketMs;
        SortedDictionary<long, long> buckets = [];
        foreach (string pair in (stored ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            int colon = pair.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && long.TryParse(pair.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out long index) &&
                long.TryParse(pair.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long count) &&
                index > current - BucketsKept && index <= current)
            {
                buckets[index] = buckets.GetValueOrDefault(index) + count;
            }
        }

        bool tripped = buckets.Values.Sum() >= maxCalls;
        if (!tripped)
        {
            buckets[current] = buckets.GetValueOrDefault(current) + 1;
        }

        return (tripped, string.Join(',', buckets.Select(b => b.Key.ToString(CultureInfo.InvariantCulture) + ":" + b.Value.ToString(CultureInfo.InvariantCulture))));
    }
}
