using Keybrake.Domain.Keys;
using Keybrake.Domain.Proxy;

namespace Keybrake.Domain.Tests.Proxy;

public sealed class VaultKeyCacheTests
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(1);
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task KeyInUse_AcrossItsLifetime_NeverWaitsForStorage()
    {
        var clock = new SettableClock(Start);
        var store = new HeldStore();
        store.Put(Key("k1"));
        var cache = new VaultKeyCache(store, clock, Lifetime);

        Task<VaultKey?> cold = cache.GetAsync("k1", CancellationToken.None);
        store.ReleaseAll();
        Assert.NotNull(await cold);

        // Past half-life: served from memory at once, while one re-read starts in the background.
        clock.Advance(TimeSpan.FromMilliseconds(600));
        Task<VaultKey?> warm = cache.GetAsync("k1", CancellationToken.None);
        Assert.True(warm.IsCompletedSuccessfully);
        Assert.True(cache.GetAsync("k1", CancellationToken.None).IsCompletedSuccessfully);
        Assert.Equal(2, store.Reads);
        store.ReleaseAll();

        // Past the first record's lifetime: the refreshed record answers, still without a read on the call path.
        clock.Advance(TimeSpan.FromMilliseconds(450));
        Task<VaultKey?> afterExpiry = cache.GetAsync("k1", CancellationToken.None);
        Assert.True(afterExpiry.IsCompletedSuccessfully);
        Assert.Equal(2, store.Reads);
    }

    [Fact]
    public async Task IdleKey_PastItsLifetime_IsReadAgainOnTheCallPath()
    {
        var clock = new SettableClock(Start);
        var store = new HeldStore() { Hold = false };
        store.Put(Key("k1"));
        var cache = new VaultKeyCache(store, clock, Lifetime);

        await cache.GetAsync("k1", CancellationToken.None);
        clock.Advance(Lifetime);
        store.Hold = true;
        Task<VaultKey?> call = cache.GetAsync("k1", CancellationToken.None);

        Assert.False(call.IsCompleted);
        Assert.Equal(2, store.Reads);
        store.ReleaseAll();
        Assert.NotNull(await call);
    }

    [Fact]
    public async Task ConcurrentCalls_ShareOneReadAndOneRefresh()
    {
        var clock = new SettableClock(Start);
        var store = new HeldStore();
        store.Put(Key("k1"));
        var cache = new VaultKeyCache(store, clock, Lifetime);

        Task<VaultKey?>[] burst = [.. Enumerable.Range(0, 50).Select(_ => Task.Run(() => cache.GetAsync("k1", CancellationToken.None)))];
        await Eventually.True(() => store.Waiting == 1);
        store.ReleaseAll();
        Assert.All(await Task.WhenAll(burst), Assert.NotNull);
        Assert.Equal(1, store.Reads);

        clock.Advance(TimeSpan.FromMilliseconds(700));
        await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Task.Run(() => cache.GetAsync("k1", CancellationToken.None))));
        Assert.Equal(2, store.Reads);
    }

    /// <summary>
    /// Generated: calls at random times, the store's answers held for random spans, one revocation at a random
    /// moment. Every call later than the revocation plus the lifetime sees the key revoked, however the
    /// background refreshes interleave.
    /// </summary>
    [Fact]
    public async Task Revocation_IsSeenByEveryCallOnceTheLifetimeHasPassed()
    {
        for (int seed = 1; seed <= 300; seed++)
        {
            var random = new Random(seed);
            var clock = new SettableClock(Start);
            var store = new HeldStore();
            store.Put(Key("k1"));
            var cache = new VaultKeyCache(store, clock, Lifetime);
            DateTimeOffset revokeAt = Start + TimeSpan.FromMilliseconds(random.Next(0, 3000));
            bool revoked = false;
            var calls = new List<(DateTimeOffset At, Task<VaultKey?> Answer)>();
            while (clock.GetUtcNow() < Start + TimeSpan.FromSeconds(6))
            {
                clock.Advance(TimeSpan.FromMilliseconds(random.Next(1, 400)));
                if (!revoked && clock.GetUtcNow() >= revokeAt)
                {
                    store.Put(Key("k1") with { RevokedAt = revokeAt });
                    revoked = true;
                }

                if (random.Next(3) == 0)
                {
                    store.ReleaseAll();
                }

                calls.Add((clock.GetUtcNow(), cache.GetAsync("k1", CancellationToken.None)));
            }

            store.Hold = false;
            store.ReleaseAll();
            foreach ((DateTimeOffset at, Task<VaultKey?> answer) in calls)
            {
                VaultKey? key = await answer;
                if (at >= revokeAt + Lifetime)
                {
                    Assert.True(key!.RevokedAt is not null, $"seed {seed}: a call at +{(at - Start).TotalMilliseconds} ms, revoked at +{(revokeAt - Start).TotalMilliseconds} ms, was served an active key.");
                }
            }
        }
    }

    [Fact]
    public async Task IdleKeys_AreDropped()
    {
        var clock = new SettableClock(Start);
        var store = new HeldStore() { Hold = false };
        var cache = new VaultKeyCache(store, clock, Lifetime);
        for (int i = 0; i < 1000; i++)
        {
            store.Put(Key("k" + i));
            await cache.GetAsync("k" + i, CancellationToken.None);
        }

        Assert.Equal(1000, cache.Count);
        clock.Advance(TimeSpan.FromSeconds(2));
        await cache.GetAsync("k1", CancellationToken.None);

        Assert.Equal(1, cache.Count);
    }

    [Fact]
    public async Task FailedRead_IsNotCached()
    {
        var clock = new SettableClock(Start);
        var store = new HeldStore() { Hold = false, Fail = true };
        store.Put(Key("k1"));
        var cache = new VaultKeyCache(store, clock, Lifetime);

        await Assert.ThrowsAsync<IOException>(() => cache.GetAsync("k1", CancellationToken.None));
        store.Fail = false;

        Assert.NotNull(await cache.GetAsync("k1", CancellationToken.None));
        Assert.Equal(2, store.Reads);
    }

    private static VaultKey Key(string id) => new()
    {
        Id = id,
        Tenant = "acme",
        Label = "acme:billing-agent:x:run-1",
        Vendor = "stripe",
        DailyCapMicros = 1_000_000,
        AllowedEndpoints = [],
        CreatedAt = Start,
        ExpiresAt = Start.AddDays(1),
        SecretHash = "hash",
    };

    private sealed class SettableClock(DateTimeOffset now) : TimeProvider
    {
        private DateTimeOffset _now = now;

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }

    /// <summary>A key store whose reads see the record as it is when they begin, answered when the test releases them.</summary>
    private sealed class HeldStore : IVaultKeyStore
    {
        private readonly Dictionary<string, VaultKey> _keys = [];
        private readonly List<(TaskCompletionSource<VaultKey?> Read, VaultKey? Snapshot)> _held = [];
        private int _reads;

        public bool Hold { get; set; } = true;

        public bool Fail { get; set; }

        public int Reads => Volatile.Read(ref _reads);

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

        public void Put(VaultKey key)
        {
            lock (_held)
            {
                _keys[key.Id] = key;
            }
        }

        public void ReleaseAll()
        {
            List<(TaskCompletionSource<VaultKey?> Read, VaultKey? Snapshot)> released;
            lock (_held)
            {
                released = [.. _held];
                _held.Clear();
            }

            foreach ((TaskCompletionSource<VaultKey?> read, VaultKey? snapshot) in released)
            {
                read.SetResult(snapshot);
            }
        }

        public Task<VaultKey?> GetAsync(string id, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _reads);
            if (Fail)
            {
                return Task.FromException<VaultKey?>(new IOException("storage down"));
            }

            lock (_held)
            {
                VaultKey? snapshot = _keys.GetValueOrDefault(id);
                if (!Hold)
                {
                    return Task.FromResult(snapshot);
                }

                // Continuations run inside ReleaseAll, so a background refresh has landed when it returns.
                var read = new TaskCompletionSource<VaultKey?>();
                _held.Add((read, snapshot));
                return read.Task;
            }
        }

        public Task CreateAsync(VaultKey key, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<KeyPage> ListAsync(KeyQuery query, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<bool> RevokeAsync(string id, DateTimeOffset at, string revokedBy, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<IReadOnlyList<string>> TenantsAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<int> RevokeMatchingAsync(KeyQuery query, DateTimeOffset at, string revokedBy, CancellationToken cancellationToken) => throw new NotSupportedException();
    }
}
