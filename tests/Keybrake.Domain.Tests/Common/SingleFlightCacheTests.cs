using Keybrake.Domain.Common;

namespace Keybrake.Domain.Tests.Common;

public sealed class SingleFlightCacheTests
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task ConcurrentMisses_ForOneKey_DoOneLoad()
    {
        var loader = new HeldLoader();
        var cache = new SingleFlightCache<string, string>(loader.LoadAsync, new SettableClock(), new SingleFlightCacheOptions { Lifetime = Lifetime });

        Task<string>[] burst = [.. Enumerable.Range(0, 64).Select(_ => Task.Run(() => Get(cache, "a")))];
        await Eventually.True(() => loader.Waiting == 1);
        await Task.Delay(50);
        loader.ReleaseAll();

        Assert.All(await Task.WhenAll(burst), v => Assert.Equal("a#1", v));
        Assert.Equal(1, loader.Loads);
    }

    [Fact]
    public async Task CallerCancelling_DoesNotFailTheOthers()
    {
        var loader = new HeldLoader();
        var cache = new SingleFlightCache<string, string>(loader.LoadAsync, new SettableClock(), new SingleFlightCacheOptions { Lifetime = Lifetime });
        using var leaving = new CancellationTokenSource();

        Task<string> first = cache.GetAsync("a", leaving.Token).AsTask();
        Task<string> second = Get(cache, "a");
        await leaving.CancelAsync();
        loader.ReleaseAll();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        Assert.Equal("a#1", await second);
        Assert.Equal(1, loader.Loads);
    }

    [Fact]
    public async Task Value_IsServedUntilItsLifetimeEnds_ThenLoadedAgain()
    {
        var clock = new SettableClock();
        var loader = new HeldLoader { Hold = false };
        var cache = new SingleFlightCache<string, string>(loader.LoadAsync, clock, new SingleFlightCacheOptions { Lifetime = Lifetime });

        Assert.Equal("a#1", await Get(cache, "a"));
        clock.Advance(Lifetime - TimeSpan.FromTicks(1));
        Task<string> warm = Get(cache, "a");
        Assert.True(warm.IsCompletedSuccessfully);
        Assert.Equal("a#1", await warm);

        clock.Advance(TimeSpan.FromTicks(1));
        Assert.Equal("a#2", await Get(cache, "a"));
        Assert.Equal(2, loader.Loads);
    }

    [Fact]
    public async Task Lifetime_CountsFromWhenTheLoadBegan()
    {
        var clock = new SettableClock();
        var loader = new HeldLoader();
        var cache = new SingleFlightCache<string, string>(loader.LoadAsync, clock, new SingleFlightCacheOptions { Lifetime = Lifetime });

        Task<string> cold = Get(cache, "a");
        clock.Advance(TimeSpan.FromSeconds(4));
        loader.ReleaseAll();
        await cold;

        clock.Advance(TimeSpan.FromSeconds(6));
        loader.Hold = false;
        Assert.Equal("a#2", await Get(cache, "a"));
    }

    [Fact]
    public async Task LoadInFlightLongerThanTheLifetime_IsNotJoined()
    {
        var clock = new SettableClock();
        var loader = new HeldLoader();
        var cache = new SingleFlightCache<string, string>(loader.LoadAsync, clock, new SingleFlightCacheOptions { Lifetime = Lifetime });

        Task<string> slow = Get(cache, "a");
        clock.Advance(Lifetime);
        Task<string> later = Get(cache, "a");
        loader.ReleaseAll();

        Assert.Equal("a#1", await slow);
        Assert.Equal("a#2", await later);
    }

    [Fact]
    public async Task FailedLoad_IsSeenByEveryWaiter_AndNotCached()
    {
        var loader = new HeldLoader { Fail = true };
        var cache = new SingleFlightCache<string, string>(loader.LoadAsync, new SettableClock(), new SingleFlightCacheOptions { Lifetime = Lifetime });

        Task<string> first = Get(cache, "a");
        Task<string> second = Get(cache, "a");
        loader.ReleaseAll();
        await Assert.ThrowsAsync<IOException>(() => first);
        await Assert.ThrowsAsync<IOException>(() => second);
        Assert.Equal(1, loader.Loads);
        Assert.Equal(0, cache.Count);

        loader.Fail = false;
        loader.Hold = false;
        Assert.Equal("a#2", await Get(cache, "a"));
    }

    [Fact]
    public async Task OverCapacity_HoldsAtMostTheBound()
    {
        var loader = new HeldLoader { Hold = false };
        var cache = new SingleFlightCache<string, string>(loader.LoadAsync, new SettableClock(), new SingleFlightCacheOptions { Lifetime = Lifetime, Capacity = 100 });

        for (int i = 0; i < 1000; i++)
        {
            await Get(cache, "k" + i);
            Assert.InRange(cache.Count, 1, 100);
        }

        // The newest key is kept: eviction only takes settled entries, and a fresh one is served from memory.
        Assert.True(Get(cache, "k999").IsCompletedSuccessfully);
    }

    [Fact]
    public async Task OverCapacity_ExpiredEntriesGoFirst()
    {
        var clock = new SettableClock();
        var loader = new HeldLoader { Hold = false };
        var cache = new SingleFlightCache<string, string>(loader.LoadAsync, clock, new SingleFlightCacheOptions { Lifetime = Lifetime, Capacity = 10, KeepExpired = true });
        for (int i = 0; i < 5; i++)
        {
            await Get(cache, "old" + i);
        }

        clock.Advance(Lifetime);
        for (int i = 0; i < 6; i++)
        {
            await Get(cache, "new" + i);
        }

        Assert.Equal(6, cache.Count);
        for (int i = 0; i < 6; i++)
        {
            Assert.True(Get(cache, "new" + i).IsCompletedSuccessfully);
        }
    }

    [Fact]
    public async Task IdleEntries_AreDropped_UnlessKeptExpired()
    {
        var clock = new SettableClock();
        var loader = new HeldLoader { Hold = false };
        var dropping = new SingleFlightCache<string, string>(loader.LoadAsync, clock, new SingleFlightCacheOptions { Lifetime = Lifetime });
        var keeping = new SingleFlightCache<string, string>(loader.LoadAsync, clock, new SingleFlightCacheOptions { Lifetime = Lifetime, KeepExpired = true });
        for (int i = 0; i < 50; i++)
        {
            await Get(dropping, "k" + i);
            await Get(keeping, "k" + i);
        }

        clock.Advance(Lifetime);
        await Get(dropping, "k0");
        await Get(keeping, "k0");

        Assert.Equal(1, dropping.Count);
        Assert.Equal(50, keeping.Count);
    }

    [Fact]
    public async Task Loader_IsHandedTheLastKnownValue_AndMayGiveItsOwnLifetime()
    {
        var clock = new SettableClock();
        var seen = new List<string?>();
        bool fail = false;
        Task<CachedValue<string>> LoadAsync(string key, CachedValue<string>? lastKnown)
        {
            seen.Add(lastKnown?.Value);
            return Task.FromResult(fail && lastKnown is not null
                ? new CachedValue<string>(lastKnown.Value, TimeSpan.FromSeconds(1))
                : new CachedValue<string>(key + "@" + clock.GetUtcNow().ToUnixTimeSeconds(), Lifetime));
        }

        var cache = new SingleFlightCache<string, string>(LoadAsync, clock, new SingleFlightCacheOptions { Lifetime = Lifetime, KeepExpired = true });
        string first = await Get(cache, "a");
        clock.Advance(Lifetime);
        fail = true;
        Assert.Equal(first, await Get(cache, "a"));

        // The loader's shorter lifetime holds: one second later it is asked again.
        clock.Advance(TimeSpan.FromSeconds(1));
        fail = false;
        Assert.NotEqual(first, await Get(cache, "a"));
        Assert.Equal([null, first, first], seen);
    }

    [Fact]
    public async Task Invalidate_WhileALoadIsInFlight_NextCallLoadsAfresh()
    {
        var loader = new HeldLoader();
        var cache = new SingleFlightCache<string, string>(loader.LoadAsync, new SettableClock(), new SingleFlightCacheOptions { Lifetime = Lifetime });

        Task<string> before = Get(cache, "a");
        cache.Invalidate("a");
        Task<string> after = Get(cache, "a");
        loader.ReleaseAll();

        Assert.Equal("a#1", await before);
        Assert.Equal("a#2", await after);

        // The older load did not publish over the newer one.
        loader.Hold = false;
        Assert.Equal("a#2", await Get(cache, "a"));
        Assert.Equal(2, loader.Loads);
    }

    [Fact]
    public async Task RefreshAhead_PastHalfLife_ServesAtOnceAndReloadsOnceInTheBackground()
    {
        var clock = new SettableClock();
        var loader = new HeldLoader { Hold = false };
        var cache = new SingleFlightCache<string, string>(loader.LoadAsync, clock, new SingleFlightCacheOptions { Lifetime = Lifetime, RefreshAhead = true });
        await Get(cache, "a");

        loader.Hold = true;
        clock.Advance(Lifetime / 2);
        for (int i = 0; i < 10; i++)
        {
            Task<string> warm = Get(cache, "a");
            Assert.True(warm.IsCompletedSuccessfully);
            Assert.Equal("a#1", await warm);
        }

        Assert.Equal(2, loader.Loads);
        Assert.Equal(1, cache.RefreshesInFlight);
        loader.ReleaseAll();
        await Eventually.True(() => cache.RefreshesInFlight == 0);

        // The refreshed value lives from when its reload began.
        clock.Advance(Lifetime / 2);
        Assert.Equal("a#2", await Get(cache, "a"));
    }

    private static Task<string> Get(SingleFlightCache<string, string> cache, string key) => cache.GetAsync(key, CancellationToken.None).AsTask();

    private sealed class SettableClock : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }

    /// <summary>Loads "{key}#{n}" (n counts loads), held until the test releases them when <see cref="Hold"/>.</summary>
    private sealed class HeldLoader
    {
        private readonly List<(TaskCompletionSource<string> Load, string Value, bool Fail)> _held = [];
        private int _loads;

        public bool Hold { get; set; } = true;

        public bool Fail { get; set; }

        public int Loads => Volatile.Read(ref _loads);

        public int Waiting
        {
            get
            {
                lock (_held)
                {
                    return _held.Count;
                }
            }
        }

        public Task<string> LoadAsync(string key)
        {
            string value = key + "#" + Interlocked.Increment(ref _loads);
            lock (_held)
            {
                if (!Hold)
                {
                    return Fail ? Task.FromException<string>(new IOException("down")) : Task.FromResult(value);
                }

                var load = new TaskCompletionSource<string>();
                _held.Add((load, value, Fail));
                return load.Task;
            }
        }

        public void ReleaseAll()
        {
            List<(TaskCompletionSource<string> Load, string Value, bool Fail)> released;
            lock (_held)
            {
                released = [.. _held];
                _held.Clear();
            }

            foreach ((TaskCompletionSource<string> load, string value, bool fail) in released)
            {
                if (fail)
                {
                    load.SetException(new IOException("down"));
                }
                else
                {
                    load.SetResult(value);
                }
            }
        }
    }
}
