using Keybrake.Domain.Common;
using Keybrake.Domain.Labels;

namespace Keybrake.Domain.Keys;

/// <summary>
/// The vault key string handed to an agent: <c>kbk_{tenant}_{id}_{secret}</c>.
/// The tenant and id let the proxy find the stored record with one point read; the secret carries
/// 260 random bits and is stored only as a SHA-256 hash, compared in constant time.
/// </summary>
public static class VaultKeySecret
{
    public const string KeyPrefix = "kbk_";
    public const string IdPrefix = "vk_";
    private static readonly int IdChars = RandomTokens.CharsForBits(100);
    private static readonly int SecretChars = RandomTokens.CharsForBits(256);

    public static (string Id, string Key) Create(string tenant)
    {
        string random = RandomTokens.Base32(IdChars);
        string secret = RandomTokens.Base32(SecretChars);
        return (IdPrefix + tenant + "_" + random, KeyPrefix + tenant + "_" + random + "_" + secret);
    }

    public static string Hash(string key) => RandomTokens.Sha256Hex(key);

    /// <summary>Recognises a vault key by shape only, so it can be refused where it does not belong.</summary>
    public static bool LooksLikeVaultKey(string? value) =>
        value is not null && value.StartsWith(KeyPrefix, StringComparison.Ordinal);

    /// <summary>Extracts the key id from a presented vault key, or null when it is not well formed.</summary>
    public static string? IdOf(string? key)
    {
        if (!LooksLikeVaultKey(key))
        {
            return null;
        }

        string[] parts = key![KeyPrefix.Length..].Split('_');
        if (parts.Length != 3 || !Label.IsValidTenant(parts[0]) || parts[1].Length != IdChars ||
            parts[2].Length != SecretChars || !RandomTokens.IsBase32(parts[1]) || !RandomTokens.IsBase32(parts[2]))
        {
            return null;
        }

        return IdPrefix + parts[0] + "_" + parts[1];
    }

    /// <summary>Splits a key id into the tenant (partition) and the random part (row).</summary>
    public static bool TrySplitId(string? id, out string tenant, out string row)
    {
        tenant = row = string.Empty;
        if (id is null || !id.StartsWith(IdPrefix, StringComparison.Ordinal))
        {
            return false;
        }

        string[] parts = id[IdPrefix.Length..].Split('_');
        if (parts.Length != 2 || !Label.IsValidTenant(parts[0]) || parts[1].Length != IdChars || !RandomTokens.IsBase32(parts[1]))
        {
            return false;
        }

        tenant = parts[0];
        row = parts[1];
        return true;
    }

    /// <summary>The presented key hashes to the stored hash; compared in constant time, hashed without intermediate strings (every proxied call).</summary>
    public static bool Verify(VaultKey stored, string presentedKey)
    {
        int max = System.Text.Encoding.UTF8.GetMaxByteCount(presentedKey.Length);
        byte[]? rented = max > 512 ? System.Buffers.ArrayPool<byte>.Shared.Rent(max) : null;
        Span<byte> utf8 = rented ?? stackalloc byte[512];
        Span<byte> digest = stackalloc byte[32];
        System.Security.Cryptography.SHA256.HashData(utf8[..System.Text.Encoding.UTF8.GetBytes(presentedKey, utf8)], digest);
        if (rented is not null)
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rented, clearArray: true);
        }

        Span<char> hex = stackalloc char[64];
        Convert.TryToHexStringLower(digest, hex, out _);
        return System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(stored.SecretHash.AsSpan()),
            System.Runtime.InteropServices.MemoryMarshal.AsBytes((ReadOnlySpan<char>)hex));
    }
}
