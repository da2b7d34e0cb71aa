using System.Collections.Concurrent;
using Keybrake.Domain.Keys;

namespace Keybrake.Domain.Proxy;

/// <summary>
/// Caches key records so a warm key costs no storage read on the call path. <paramref name="lifetime"/> is the
/// oldest a record may be when it authorizes a call, counted from when its read began, so a revocation
/// reaches every instance within it (default 1 s; configuration keeps it at most 2 s). A key in use is read
/// again in the background once its record is half that old (refresh ahead, one read per key at a time), so
/// a key called at least that often never waits for storage; only a key idle for longer does.
/// Records past their lifetime are dropped, so memory follows the keys in use, not every key ever seen.
/// </summary>
public sealed class VaultKeyCache(IVaultKeyStore store, TimeProvider time, TimeSpan lifetime)
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly TimeSpan _sweepEvery = lifetime > TimeSpan.FromSeconds(1) ? lifetime : TimeSpan.FromSeconds(1);
    private long _nextSweepTicks;
    private int _refreshing;

    /// <summary>Records held (in use or being read); the soak command prints it.</summary>
    public int Count => _entries.Count;

    /// <summary>Background re-reads not yet landed: a caller that must know the cache has settled waits for 0.</summary>
    public int RefreshesInFlight => Volatile.Read(ref _refreshing);

    public async Task<VaultKey?> GetAsync(string id, CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        SweepIfDue(now);
        while (true)
        {
            _entries.TryGetValue(id, out Entry? entry);
            if (entry is not null && now - entry.ReadAt < lifetime && !entry.Key.IsFaulted && !entry.Key.IsCanceled)
            {
                if (!entry.Refreshing && entry.Key.IsCompletedSuccessfully && now - entry.ReadAt >= lifetime / 2)
                {
                    StartRefresh(id, entry, now);
                }

                return await entry.Key.WaitAsync(cancellationToken);
            }

            // One read per key however many calls arrive at once: a burst must not become a burst on storage.
            // Only the caller whose entry is installed reads; the others find it on the next turn and wait on it.
            var read = new TaskCompletionSource<VaultKey?>(TaskCreationOptions.RunContinuationsAsynchronously);
            var mine = new Entry(read.Task, now, Refreshing: false);
            if (entry is null ? !_entries.TryAdd(id, mine) : !_entries.TryUpdate(id, mine, entry))
            {
                continue;
            }

            // Not awaited: this caller may give up on its own token like any other waiter; the read goes on for them.
            _ = ReadIntoAsync(id, read);
            return await read.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Completes <paramref name="read"/> with the stored record or the failure; never throws.</summary>
    private async Task ReadIntoAsync(string id, TaskCompletionSource<VaultKey?> read)
    {
        try
        {
            // Not the caller's token: the record is shared, and one caller going away must not fail the others.
            read.SetResult(await store.GetAsync(id, CancellationToken.None));
        }
        catch (Exception e)
        {
            // Every waiter sees the failure; a faulted entry is never served, so the next call reads again.
            read.SetException(e);
        }
    }

    private void StartRefresh(string id, Entry entry, DateTimeOffset now)
    {
        Entry marked = entry with { Refreshing = true };
        if (_entries.TryUpdate(id, marked, entry))
        {
            Interlocked.Increment(ref _refreshing);
            _ = RefreshAsync(id, marked, now);
        }
    }

    private async Task RefreshAsync(string id, Entry marked, DateTimeOffset began)
    {
        Entry next;
        try
        {
            VaultKey? key = await store.GetAsync(id, CancellationToken.None);
            next = new Entry(Task.FromResult(key), began, Refreshing: false);
        }
        catch (Exception)
        {
            // Nobody waits on a refresh, so its failure is not reported here: the record in hand stays valid until
            // its lifetime ends, the next call past half-life tries again, and past the lifetime a call reads
            // storage itself and meets the failure on its own path (503, nothing forwarded).
            next = marked with { Refreshing = false };
        }

        // Unless something newer replaced the entry meanwhile (a caller's read after expiry).
        _entries.TryUpdate(id, next, marked);
        Interlocked.Decrement(ref _refreshing);
    }

    private void SweepIfDue(DateTimeOffset now)
    {
        long due = Interlocked.Read(ref _nextSweepTicks);
        if (now.UtcTicks < due || Interlocked.CompareExchange(ref _nextSweepTicks, now.UtcTicks + _sweepEvery.Ticks, due) != due)
        {
            return;
        }

        foreach (KeyValuePair<string, Entry> pair in _entries)
        {
            if (now - pair.Value.ReadAt >= lifetime && pair.Value.Key.IsCompleted && !pair.Value.Refreshing)
            {
                // Removed only if unchanged: a read that replaced it meanwhile stays.
                _entries.TryRemove(pair);
            }
        }
    }

    /// <summary>A record (or the read that will produce it), when that read began, and whether a re-read is under way.</summary>
    private sealed record Entry(Task<VaultKey?> Key, DateTimeOffset ReadAt, bool Refreshing);
}
