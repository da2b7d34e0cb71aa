using System.Collections.Concurrent;
using Keybrake.Domain.Keys;

namespace Keybrake.Domain.Proxy;

/// <summary>
/// Caches key records briefly so a warm key costs no storage read. The lifetime bounds how long a
/// revocation takes to reach every instance (default 1 s; keep it under 2 s).
/// </summary>
public sealed class VaultKeyCache(IVaultKeyStore store, TimeProvider time, TimeSpan lifetime)
{
    private readonly ConcurrentDictionary<string, (VaultKey? Key, DateTimeOffset Until)> _entries = new(StringComparer.Ordinal);

    public async Task<VaultKey?> GetAsync(string id, CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        if (_entries.TryGetValue(id, out (VaultKey? Key, DateTimeOffset Until) entry) && entry.Until > now)
        {
            return entry.Key;
        }

        VaultKey? key = await store.GetAsync(id, cancellationToken);
        if (_entries.Count > 100_000)
        {
            // Keys are per run and short-lived; a bounded cache beats an eviction policy here.
            _entries.Clear();
        }

        _entries[id] = (key, now + lifetime);
        return key;
    }
}
