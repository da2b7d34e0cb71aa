using Keybrake.Domain.Common;
using Keybrake.Domain.Keys;

namespace Keybrake.Tests.Domain;

public sealed class TtlAndSecretTests
{
    [Theory]
    [InlineData("45s", 45)]
    [InlineData("30m", 1800)]
    [InlineData("2h", 7200)]
    [InlineData("30d", 2_592_000)]
    public void Ttl_ParsesUnits(string value, int seconds) => Assert.Equal(TimeSpan.FromSeconds(seconds), Ttl.Parse(value));

    [Theory]
    [InlineData("0m")]
    [InlineData("31d")]
    [InlineData("721h")]
    [InlineData("abc")]
    [InlineData("-5m")]
    [InlineData("5")]
    [InlineData("5 m")]
    [InlineData("99999999999999999999d")]
    public void Ttl_RejectsOutOfRangeOrMalformed(string value) => Assert.Throws<KeybrakeException>(() => Ttl.Parse(value));

    [Fact]
    public void VaultKey_CarriesAtLeast256RandomBitsAndResolvesToItsId()
    {
        (string id, string key) = VaultKeySecret.Create("acme");
        string secret = key.Split('_')[3];

        Assert.True(secret.Length * 5 >= 256);
        Assert.Equal(id, VaultKeySecret.IdOf(key));
        Assert.True(VaultKeySecret.TrySplitId(id, out string tenant, out _));
        Assert.Equal("acme", tenant);
        Assert.NotEqual(key, VaultKeySecret.Create("acme").Key);
    }

    [Theory]
    [InlineData("sk_live_123")]
    [InlineData("kbk_acme_short_secret")]
    [InlineData("kbk_ACME_aaaaaaaaaaaaaaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    [InlineData("kbk_acme_aaaaaaaaaaaaaaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1")]
    public void VaultKey_MalformedKeysHaveNoId(string key) => Assert.Null(VaultKeySecret.IdOf(key));

    [Fact]
    public void VaultKey_VerifiesOnlyTheExactSecret()
    {
        (string id, string key) = VaultKeySecret.Create("acme");
        var stored = new VaultKey
        {
            Id = id, Tenant = "acme", Label = "acme", Vendor = "stripe", DailyCapMicros = 1, AllowedEndpoints = [],
            CreatedAt = DateTimeOffset.UnixEpoch, ExpiresAt = DateTimeOffset.MaxValue, SecretHash = VaultKeySecret.Hash(key),
        };

        Assert.True(VaultKeySecret.Verify(stored, key));
        Assert.False(VaultKeySecret.Verify(stored, key[..^1] + (key[^1] == 'a' ? 'b' : 'a')));
    }

    [Fact]
    public void Usd_ConvertsExactlyToMicros()
    {
        Assert.Equal(1_500_000, Usd.ToMicros(1.5m));
        Assert.Equal(1, Usd.ToMicros(0.000001m));
        Assert.Equal(0.0083m, Usd.FromMicros(8300));
        Assert.False(Usd.TryToMicros(0.0000001m, out _));
        Assert.Equal("-0.008300", Usd.Format(-8300));
    }
}
