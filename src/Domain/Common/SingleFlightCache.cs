using System.Collections.Concurrent;

namespace Keybrake.Domain.Common;

/// <summary>How a <see cref="SingleFlightCache{TKey, TValue}"/> keeps what it loaded.</summary>
public sealed record SingleFlightCacheOptions
{
    /// <summary>
    /// How long a loaded value is served, counted from when its load began (a loader may give a value its own).
    /// A load in flight for longer than this is not joined: a caller never receives a value older than this.
    /// </summary>
    public required TimeSpan Lifetime { get; init; }

    /// <summary>The most keys held. Past it, expired entries go first, then arbitrary settled ones.</summary>
    public int Capacity { get; init; } = 100_000;

    /// <summary>
    /// Reload a value in the background once it is half its lifetime old and asked for, so a key in steady use
    /// never waits for its loader; one reload per key at a time.
    /// </summary>
    public bool RefreshAhead { get; init; }

    /// <summary>
    /// Keep expired values (handed to the loader as the last known one) until the bound evicts them, instead
    /// of dropping them once past their lifetime.
    /// </summary>
    public bool KeepExpired { get; init; }
}

/// <summary>A loaded value and how long it may be served. Not a record: no generated ToString that could print a secret.</summary>
public sealed class CachedValue<TValue>(TValue value, TimeSpan lifetime)
{
    public TValue Value { get; } = value;

    public TimeSpan Lifetime { get; } = lifetime;
}

/// <summary>
/// An in-memory, bounded cache whose entries expire, with one load per key however many callers miss at once
/// (a burst of calls must not become a burst on storage or Key Vault). A failed load is never kept: every caller
/// waiting on it sees the failure, and the next call loads again. A load runs on no caller's token, because its
/// result is shared; each caller stops waiting on its own token.
/// </summary>
public sealed class SingleFlightCache<TKey, TValue>
    where TKey : notnull
{
    private readonly Func<TKey, CachedValue<TValue>?, Task<CachedValue<TValue>>> _load;
    private readonly TimeProvider _time;
    private readonly SingleFlightCacheOptions _options;
    private readonly ConcurrentDictionary<TKey, Entry> _entries;
    private readonly TimeSpan _sweepEvery;
    private readonly Lock _evicting = new();
    private long _nextSweepTicks;
    private int _count;
    private int _refreshing;

    /// <param name="load">
    /// Loads one key; it receives the last value known for the key (possibly expired, null when none) and
    /// returns the value with its lifetime.
    /// </param>
    public SingleFlightCache(
        Func<TKey, CachedValue<TValue>?, Task<CachedValue<TValue>>> load,
        TimeProvider time,
        SingleFlightCacheOptions options,
        IEqualityComparer<TKey>? comparer = null)
    {
        ArgumentNullException.ThrowIfNull(load);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Lifetime, TimeSpan.Zero, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Capacity, 1, nameof(options));
        _load = load;
        _time = time;
        _options = options;
        _entries = new ConcurrentDictionary<TKey, Entry>(comparer);
        _sweepEvery = options.Lifetime > TimeSpan.FromSeconds(1) ? options.Lifetime : TimeSpan.FromSeconds(1);
    }

    /// <summary>A cache whose every value lives <see cref="SingleFlightCacheOptions.Lifetime"/>.</summary>
    public SingleFlightCache(Func<TKey, Task<TValue>> load, TimeProvider time, SingleFlightCacheOptions options, IEqualityComparer<TKey>? comparer = null)
        : this(LoadFor(load, options), time, options, comparer)
    {
    }

    /// <summary>Keys held (settled or loading).</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Background reloads not yet landed: a caller that must know the cache has settled waits for 0.</summary>
    public int RefreshesInFlight => Volatile.Read(ref _refreshing);

    /// <summary>The cached value, or the load under way for it, or a new load. Completes synchronously when fresh.</summary>
    public ValueTask<TValue> GetAsync(TKey key, CancellationToken cancellationToken)
    {
        DateTimeOffset now = _time.GetUtcNow();
        SweepIfDue(now);
        while (true)
        {
            _entries.TryGetValue(key, out Entry? found);
            if (found?.Load is { } load)
            {
                if (load.IsCompletedSuccessfully && now < found.Expires)
                {
                    if (_options.RefreshAhead && !found.Refreshing && now - found.Began >= (found.Expires - found.Began) / 2)
                    {
                        StartRefresh(key, found);
                    }

                    return ValueTask.FromResult(load.Result.Value);
                }

                if (!load.IsCompleted && now - found.Began < _options.Lifetime)
                {
                    return ValueOfAsync(load, cancellationToken);
                }
            }

            // Only the caller whose entry is installed loads; the others find it on the next turn and wait on it.
            var loading = new TaskCompletionSource<CachedValue<TValue>>(TaskCreationOptions.RunContinuationsAsynchronously);
            var mine = new Entry(loading.Task, found?.Known, now, DateTimeOffset.MaxValue, Refreshing: false);
            if (found is null ? !_entries.TryAdd(key, mine) : !_entries.TryUpdate(key, mine, found))
            {
                continue;
            }

            if (found is null && Interlocked.Increment(ref _count) > _options.Capacity)
            {
                Evict(now);
            }

            _ = LoadIntoAsync(key, mine, loading);
            return ValueOfAsync(loading.Task, cancellationToken);
        }
    }

    /// <summary>
    /// The next call loads afresh, and a load already in flight (it may predate the change) does not publish.
    /// The value is kept, expired, as the last known one handed to that next load.
    /// </summary>
    public void Invalidate(TKey key)
    {
        while (_entries.TryGetValue(key, out Entry? found))
        {
            if (found.Known is null ? Remove(key, found) : _entries.TryUpdate(key, Expired(found), found))
            {
                return;
            }
        }
    }

    private static Func<TKey, CachedValue<TValue>?, Task<CachedValue<TValue>>> LoadFor(Func<TKey, Task<TValue>> load, SingleFlightCacheOptions options)
    {
        ArgumentNullException.ThrowIfNull(load);
        ArgumentNullException.ThrowIfNull(options);
        TimeSpan lifetime = options.Lifetime;
        return async (key, _) => new CachedValue<TValue>(await load(key), lifetime);
    }

    private static async ValueTask<TValue> ValueOfAsync(Task<CachedValue<TValue>> load, CancellationToken cancellationToken) =>
        (await load.WaitAsync(cancellationToken)).Value;

    private static Entry Expired(Entry entry) => new(null, entry.Known, entry.Began, DateTimeOffset.MinValue, Refreshing: false);

    /// <summary>Completes <paramref name="loading"/> with the value or the failure; never throws.</summary>
    private async Task LoadIntoAsync(TKey key, Entry mine, TaskCompletionSource<CachedValue<TValue>> loading)
    {
        try
        {
            CachedValue<TValue> loaded = await _load(key, mine.Known);

            // Published before the waiters are released, unless the entry was replaced meanwhile (an invalidation,
            // or a caller that found this load too old to join).
            _entries.TryUpdate(key, mine with { Known = loaded, Expires = mine.Began + loaded.Lifetime }, mine);
            loading.SetResult(loaded);
        }
        catch (Exception e)
        {
            // The last known value stays for the next load; unless the entry was replaced meanwhile.
            _ = mine.Known is null ? Remove(key, mine) : _entries.TryUpdate(key, Expired(mine), mine);
            loading.SetException(e);
        }
    }

    private void StartRefresh(TKey key, Entry entry)
    {
        Entry marked = entry with { Refreshing = true };
        if (_entries.TryUpdate(key, marked, entry))
        {
            Interlocked.Increment(ref _refreshing);
            _ = RefreshAsync(key, marked, _time.GetUtcNow());
        }
    }

    private async Task RefreshAsync(TKey key, Entry marked, DateTimeOffset began)
    {
        Entry next;
        try
        {
            CachedValue<TValue> loaded = await _load(key, marked.Known);
            next = new Entry(Task.FromResult(loaded), loaded, began, began + loaded.Lifetime, Refreshing: false);
        }
        catch (Exception)
        {
            // Nobody waits on a refresh, so its failure is reported to no one: the value in hand stays valid until its
            // lifetime ends, the next call past half-life tries again, and past the lifetime a caller loads itself
            // and meets the failure on its own path.
            next = marked with { Refreshing = false };
        }

        // Unless something newer replaced the entry meanwhile (a caller's load after expiry, an invalidation).
        _entries.TryUpdate(key, next, marked);
        Interlocked.Decrement(ref _refreshing);
    }

    private bool Remove(TKey key, Entry entry)
    {
        if (!_entries.TryRemove(new KeyValuePair<TKey, Entry>(key, entry)))
        {
            return false;
        }

        Interlocked.Decrement(ref _count);
        return true;
    }

    private static bool Settled(Entry entry) => entry.Load is null || (entry.Load.IsCompleted && !entry.Refreshing);

    private void SweepIfDue(DateTimeOffset now)
    {
        if (_options.KeepExpired)
        {
            return;
        }

        long due = Interlocked.Read(ref _nextSweepTicks);
        if (now.UtcTicks < due || Interlocked.CompareExchange(ref _nextSweepTicks, now.UtcTicks + _sweepEvery.Ticks, due) != due)
        {
            return;
        }

        foreach (KeyValuePair<TKey, Entry> pair in _entries)
        {
            if (now >= pair.Value.Expires && Settled(pair.Value))
            {
                // Removed only if unchanged: a load that replaced it meanwhile stays.
                Remove(pair.Key, pair.Value);
            }
        }
    }

    /// <summary>Over capacity: expired entries first, then settled ones in no particular order, down to 90%.</summary>
    private void Evict(DateTimeOffset now)
    {
        if (!_evicting.TryEnter())
        {
            return;
        }

        try
        {
            foreach (KeyValuePair<TKey, Entry> pair in _entries)
            {
                if (now >= pair.Value.Expires && Settled(pair.Value))
                {
                    Remove(pair.Key, pair.Value);
                }
            }

            int target = _options.Capacity - (_options.Capacity / 10);
            foreach (KeyValuePair<TKey, Entry> pair in _entries)
            {
                if (Volatile.Read(ref _count) <= target)
                {
                    break;
                }

                if (Settled(pair.Value))
                {
                    Remove(pair.Key, pair.Value);
                }
            }
        }
        finally
        {
            _evicting.Exit();
        }
    }

    /// <summary>
    /// A value or the load that will produce it (null once invalidated or failed), the last value loaded (kept
    /// for the loader), when the load began, until when the value is served, and whether a reload is under way.
    /// </summary>
    private sealed record Entry(Task<CachedValue<TValue>>? Load, CachedValue<TValue>? Known, DateTimeOffset Began, DateTimeOffset Expires, bool Refreshing);
}
