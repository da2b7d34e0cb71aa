using System.Security.Cryptography;

namespace Keybrake.Domain.Common;

/// <summary>Random identifiers and secrets in lowercase base32, which is safe in URLs, table keys and Basic auth.</summary>
public static class RandomTokens
{
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";

    /// <summary>Characters needed to carry at least <paramref name="bits"/> random bits.</summary>
    public static int CharsForBits(int bits) => (bits + 4) / 5;

    public static string Base32(int chars)
    {
        Span<byte> bytes = chars <= 256 ? stackalloc byte[chars] : new byte[chars];
        RandomNumberGenerator.Fill(bytes);
        return string.Create(chars, bytes.ToArray(), static (span, raw) =>
        {
            for (int i = 0; i < span.Length; i++)
            {
                span[i] = Alphabet[raw[i] & 31];
            }
        });
    }

    public static bool IsBase32(ReadOnlySpan<char> value)
    {
        foreach (char c in value)
        {
            if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')))
            {
                return false;
            }
        }

        return true;
    }

    public static string Sha256Hex(string value) =>
        Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(value)));

    /// <summary>Compares two hex hashes in time independent of where they differ.</summary>
    public static bool HashEquals(string leftHex, string rightHex) =>
        CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.ASCII.GetBytes(leftHex),
            System.Text.Encoding.ASCII.GetBytes(rightHex));
}
