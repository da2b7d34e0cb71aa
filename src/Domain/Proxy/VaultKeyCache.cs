using System.Collections.Concurrent;
using Keybrake.Domain.Keys;

namespace Keybrake.Domain.Proxy;

/// <summary>
/// Caches key records briefly so a warm key costs no storage read. The lifetime bounds how long a
/// revocation takes to reach every instance (default 1 s; keep it under 2 s).
/// </summary>
public sealed class VaultKeyCache(IVaultKeyStore store, TimeProvider time, TimeSpan lifetime)
{
    private readonly ConcurrentDictionary<string, (Task<VaultKey?> Key, DateTimeOffset Until)> _entries = new(StringComparer.Ordinal);

    public async Task<VaultKey?> GetAsync(string id, CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        if (_entries.TryGetValue(id, out (Task<VaultKey?> Key, DateTimeOffset Until) entry) && entry.Until > now && !entry.Key.IsFaulted && !entry.Key.IsCanceled)
        {
            return await entry.Key.WaitAsync(cancellationToken);
        }

        if (_entries.Count > 100_000)
        {
            // Keys are per run and short-lived; a bounded cache beats an eviction policy here.
            _entries.Clear();
        }

        // One read per key however many calls arrive at once: a burst must not become a burst on storage.
        (Task<VaultKey?> Key, DateTimeOffset Until) fresh = _entries.AddOrUpdate(
            id,
            _ => (store.GetAsync(id, CancellationToken.None), now + lifetime),
            (_, current) => current.Until > now && !current.Key.IsFaulted && !current.Key.IsCanceled
                ? current
                : (store.GetAsync(id, CancellationToken.None), now + lifetime));
        return await fresh.Key.WaitAsync(cancellationToken);
    }
}
