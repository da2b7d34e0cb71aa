using System.Diagnostics;

namespace Keybrake.Tests.Support;

/// <summary>Waiting for what happens in the background (a timer, a webhook, a cache refresh), by polling.</summary>
public static class Eventually
{
    private static readonly TimeSpan DefaultWithin = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan DefaultEvery = TimeSpan.FromMilliseconds(20);

    /// <summary>Polls <paramref name="condition"/> until it holds; throws after <paramref name="within"/> (10 s), with <paramref name="detail"/> if given.</summary>
    public static Task True(Func<bool> condition, string? what = null, TimeSpan? within = null, Func<string>? detail = null, TimeSpan? every = null) =>
        True(() => Task.FromResult(condition()), what, within, detail, every);

    public static async Task True(Func<Task<bool>> condition, string? what = null, TimeSpan? within = null, Func<string>? detail = null, TimeSpan? every = null)
    {
        TimeSpan limit = within ?? DefaultWithin;
        var waited = Stopwatch.StartNew();
        while (!await condition())
        {
            if (waited.Elapsed > limit)
            {
                throw new TimeoutException($"Waited {limit.TotalSeconds:0.#} s for: {what ?? "the condition"}" + (detail is null ? string.Empty : "\n" + detail()));
            }

            await Task.Delay(every ?? DefaultEvery);
        }
    }
}
