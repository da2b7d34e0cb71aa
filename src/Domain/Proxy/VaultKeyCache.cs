using Keybrake.Domain.Common;
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
    // Reads run on no caller's token: the record is shared, and one caller going away must not fail the others.
    private readonly SingleFlightCache<string, VaultKey?> _records = new(
        id => store.GetAsync(id, CancellationToken.None),
        time,
        new SingleFlightCacheOptions { Lifetime = lifetime, RefreshAhead = true },
        StringComparer.Ordinal);

    /// <summary>Records held (in use or being read); the soak command prints it.</summary>
    public int Count => _records.Count;

    /// <summary>Background re-reads not yet landed: a caller that must know the cache has settled waits for 0.</summary>
    public int RefreshesInFlight => _records.RefreshesInFlight;

    public Task<VaultKey?> GetAsync(string id, CancellationToken cancellationToken) =>
        _records.GetAsync(id, cancellationToken).AsTask();
}
