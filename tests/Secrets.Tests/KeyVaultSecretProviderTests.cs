using Keybrake.Domain.Secrets;
using Keybrake.Infrastructure.Secrets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Keybrake.Secrets.Tests;

/// <summary>The real <c>SecretClient</c> against <see cref="FakeKeyVault"/> on loopback HTTPS; cache time from a <see cref="FakeTimeProvider"/>.</summary>
public sealed class KeyVaultSecretProviderTests
{
    private const string Name = SecretNames.StripeSecretKey;
    private const string Tenant = "acme";
    private const string SharedValue = "sk_test_SHARED_value_7c1e";
    private const string TenantValue = "sk_test_ACME_value_93ab";
    private static readonly string Override = SecretNames.ForTenant(Name, Tenant);
    private static readonly TimeSpan CacheDuration = new KeyVaultSecretOptions().CacheDuration;
    private static readonly TimeSpan FailureRetryInterval = new KeyVaultSecretOptions().FailureRetryInterval;

    [Fact]
    public async Task Get_SecretExists_ReturnsItsValue()
    {
        await using Harness h = await Harness.StartAsync();
        h.Vault.SetSecret(Name, SharedValue);

        Assert.Equal(SharedValue, await h.GetAsync(Name, tenant: null));

        // The REST shape SecretClient uses: challenge first, then the latest version with an api-version.
        Assert.All(h.Vault.RequestLines, line => Assert.Matches($"^GET /secrets/{Name}/?\\?api-version=[0-9.a-z-]+$", line));
        Assert.Equal(1, h.Vault.Reads(Name));
    }

    [Fact]
    public async Task Get_TenantOverrideExists_OverrideWins()
    {
        await using Harness h = await Harness.StartAsync();
        h.Vault.SetSecret(Name, SharedValue);
        h.Vault.SetSecret(Override, TenantValue);

        Assert.Equal(TenantValue, await h.GetAsync(Name, Tenant));
        Assert.Equal(SharedValue, await h.GetAsync(Name, tenant: null));
        Assert.Equal(SharedValue, await h.GetAsync(Name, "other-tenant"));
    }

    [Fact]
    public async Task Get_NoTenantOverride_FallsBackToSharedSecret()
    {
        await using Harness h = await Harness.StartAsync();
        h.Vault.SetSecret(Name, SharedValue);

        Assert.Equal(SharedValue, await h.GetAsync(Name, Tenant));
        Assert.Equal(1, h.Vault.Reads(Override));
        Assert.Equal(1, h.Vault.Reads(Name));
    }

    [Fact]
    public async Task Get_SecretMissing_ReturnsNull()
    {
        await using Harness h = await Harness.StartAsync();

        Assert.Null(await h.GetAsync(Name, tenant: null));
        Assert.Null(await h.GetAsync(Name, Tenant));
    }

    [Fact]
    public async Task Get_AfterWarmUp_MakesNoKeyVaultRequests()
    {
        await using Harness h = await Harness.StartAsync();
        h.Vault.SetSecret(Name, SharedValue);
        h.Vault.SetSecret(Override, TenantValue);
        await h.GetAsync(Name, Tenant);                         // override exists
        await h.GetAsync(Name, "no-override");                  // override missing: cached as absent
        await h.GetAsync(SecretNames.ResendApiKey, null);       // missing altogether
        int requests = h.Vault.TotalRequests;

        for (int i = 0; i < 200; i++)
        {
            ValueTask<string?> withOverride = h.Provider.GetAsync(Name, Tenant, CancellationToken.None);
            ValueTask<string?> withoutOverride = h.Provider.GetAsync(Name, "no-override", CancellationToken.None);
            ValueTask<string?> missing = h.Provider.GetAsync(SecretNames.ResendApiKey, null, CancellationToken.None);

            // Served from memory: complete before returning, nothing awaited.
            Assert.True(withOverride.IsCompletedSuccessfully && withoutOverride.IsCompletedSuccessfully && missing.IsCompletedSuccessfully);
            Assert.Equal(TenantValue, await withOverride);
            Assert.Equal(SharedValue, await withoutOverride);
            Assert.Null(await missing);
            h.Time.Advance(CacheDuration / 400);
        }

        Assert.Equal(requests, h.Vault.TotalRequests);
    }

    [Fact]
    public async Task Get_AfterCacheExpires_ServesRotatedVersion()
    {
        await using Harness h = await Harness.StartAsync();
        h.Vault.SetSecret(Name, SharedValue);
        Assert.Equal(SharedValue, await h.GetAsync(Name, null));
        h.Vault.SetSecret(Name, "sk_test_ROTATED_value_51d0");

        h.Time.Advance(CacheDuration - TimeSpan.FromSeconds(1));
        Assert.Equal(SharedValue, await h.GetAsync(Name, null));
        Assert.Equal(1, h.Vault.Reads(Name));

        h.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("sk_test_ROTATED_value_51d0", await h.GetAsync(Name, null));
        Assert.Equal(2, h.Vault.Reads(Name));
    }

    [Fact]
    public async Task Invalidate_AfterRotation_ServesNewVersionImmediately()
    {
        await using Harness h = await Harness.StartAsync();
        h.Vault.SetSecret(Name, SharedValue);
        h.Vault.SetSecret(Override, TenantValue);
        Assert.Equal(TenantValue, await h.GetAsync(Name, Tenant));
        Assert.Equal(SharedValue, await h.GetAsync(Name, null));
        h.Vault.SetSecret(Override, "sk_test_ACME_rotated_0b7f");
        h.Vault.SetSecret(Name, "sk_test_SHARED_rotated_e2c4");
        Assert.Equal(TenantValue, await h.GetAsync(Name, Tenant));

        h.Provider.Invalidate(Name, Tenant);

        Assert.Equal("sk_test_ACME_rotated_0b7f", await h.GetAsync(Name, Tenant));
        Assert.Equal("sk_test_SHARED_rotated_e2c4", await h.GetAsync(Name, null));
        Assert.Equal(2, h.Vault.Reads(Override));
        Assert.Equal(2, h.Vault.Reads(Name));
    }

    [Fact]
    public async Task Invalidate_OverrideCreatedAfterAbsenceWasCached_ServesOverride()
    {
        await using Harness h = await Harness.StartAsync();
        h.Vault.SetSecret(Name, SharedValue);
        Assert.Equal(SharedValue, await h.GetAsync(Name, Tenant));
        h.Vault.SetSecret(Override, TenantValue);
        Assert.Equal(SharedValue, await h.GetAsync(Name, Tenant));

        h.Provider.Invalidate(Name, Tenant);

        Assert.Equal(TenantValue, await h.GetAsync(Name, Tenant));
    }

    [Fact]
    public async Task Invalidate_WhileOlderReadInFlight_NextReadFetchesAfresh()
    {
        await using Harness h = await Harness.StartAsync();
        h.Vault.SetSecret(Name, SharedValue);
        h.Vault.PauseReads();
        Task<string?> before = h.GetAsync(Name, null);
        await Eventually.True(() => h.Vault.Reads(Name) == 1);   // answered with the old version, held back

        h.Vault.SetSecret(Name, "sk_test_ROTATED_value_51d0");
        h.Provider.Invalidate(Name, null);
        Task<string?> after = h.GetAsync(Name, null);
        await Eventually.True(() => h.Vault.Reads(Name) == 2);
        h.Vault.ResumeReads();

        Assert.Equal(SharedValue, await before);
        Assert.Equal("sk_test_ROTATED_value_51d0", await after);
        Assert.Equal("sk_test_ROTATED_value_51d0", await h.GetAsync(Name, null));
        Assert.Equal(2, h.Vault.Reads(Name));
    }

    [Fact]
    public async Task Get_50ConcurrentFirstReads_OneRequestPerName()
    {
        await using Harness h = await Harness.StartAsync();
        h.Vault.SetSecret(Name, SharedValue);
        h.Vault.SetSecret(SecretNames.ResendApiKey, "re_test_value_aa21");
        h.Vault.PauseReads();

        int started = 0;
        Task<string?>[] readers = [.. Enumerable.Range(0, 100).Select(i => Task.Run(async () =>
        {
            ValueTask<string?> read = i % 2 == 0
                ? h.Provider.GetAsync(Name, Tenant, CancellationToken.None)
                : h.Provider.GetAsync(SecretNames.ResendApiKey, null, CancellationToken.None);
            Interlocked.Increment(ref started);
            return await read;
        }))];
        await Eventually.True(() => Volatile.Read(ref started) == readers.Length);
        h.Vault.ResumeReads();
        string?[] values = await Task.WhenAll(readers);

        Assert.Equal(50, values.Count(v => v == SharedValue));
        Assert.Equal(50, values.Count(v => v == "re_test_value_aa21"));
        Assert.Equal(1, h.Vault.Reads(Override));
        Assert.Equal(1, h.Vault.Reads(Name));
        Assert.Equal(1, h.Vault.Reads(SecretNames.ResendApiKey));
    }

    [Fact]
    public async Task Get_CallerCancelsWhileReadInFlight_OthersStillGetValue()
    {
        await using Harness h = await Harness.StartAsync();
        h.Vault.SetSecret(Name, SharedValue);
        h.Vault.PauseReads();
        using var cancel = new CancellationTokenSource();

        ValueTask<string?> cancelled = h.Provider.GetAsync(Name, null, cancel.Token);
        ValueTask<string?> patient = h.Provider.GetAsync(Name, null, CancellationToken.None);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.AsTask());
        h.Vault.ResumeReads();
        Assert.Equal(SharedValue, await patient);
        Assert.Equal(1, h.Vault.Reads(Name));
    }

    [Fact]
    public async Task Get_VaultDownWithCachedValue_ServesLastKnownValueAndWarns()
    {
        await using Harness h = await Harness.StartAsync();
        h.Vault.SetSecret(Name, SharedValue);
        Assert.Equal(SharedValue, await h.GetAsync(Name, null));
        h.Vault.Down = true;
        h.Time.Advance(CacheDuration);

        Assert.Equal(SharedValue, await h.GetAsync(Name, null));

        (LogLevel level, int eventId, string text) = Assert.Single(h.Logger.Entries, e => e.Level == LogLevel.Warning);
        Assert.Equal(3003, eventId);
        Assert.Contains(Name, text, StringComparison.Ordinal);
        Assert.Contains("503", text, StringComparison.Ordinal);
        Assert.DoesNotContain(SharedValue, h.Logger.All, StringComparison.Ordinal);

        // The outage does not put a Key Vault call on every read: the next attempt waits for the retry interval.
        int reads = h.Vault.Reads(Name);
        h.Time.Advance(FailureRetryInterval - TimeSpan.FromSeconds(1));
        Assert.Equal(SharedValue, await h.GetAsync(Name, null));
        Assert.Equal(reads, h.Vault.Reads(Name));

        h.Vault.Down = false;
        h.Vault.SetSecret(Name, "sk_test_ROTATED_value_51d0");
        h.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("sk_test_ROTATED_value_51d0", await h.GetAsync(Name, null));
    }

    [Fact]
    public async Task Invalidate_WhileVaultDown_KeepsServingLastKnownValue()
    {
        await using Harness h = await Harness.StartAsync();
        h.Vault.SetSecret(Name, SharedValue);
        Assert.Equal(SharedValue, await h.GetAsync(Name, null));
        h.Vault.Down = true;

        h.Provider.Invalidate(Name, null);

        Assert.Equal(SharedValue, await h.GetAsync(Name, null));
        Assert.True(h.Vault.Reads(Name) > 1);
    }

    [Fact]
    public async Task Get_VaultDownWithNothingCached_ThrowsNamingSecretOnly()
    {
        await using Harness h = await Harness.StartAsync();
        h.Vault.SetSecret(Name, SharedValue);
        h.Vault.SetSecret(Override, TenantValue);
        Assert.Equal(SharedValue, await h.GetAsync(Name, null));   // the shared value is in memory
        h.Vault.Down = true;

        // The tenant's override cannot be read: fail closed, never fall back to the shared account.
        SecretUnavailableException error = await Assert.ThrowsAsync<SecretUnavailableException>(() => h.GetAsync(Name, Tenant));

        Assert.Equal(Override, error.SecretName);
        Assert.Contains(Override, error.Message, StringComparison.Ordinal);
        foreach (string value in new[] { SharedValue, TenantValue })
        {
            Assert.DoesNotContain(value, error.ToString(), StringComparison.Ordinal);
            Assert.DoesNotContain(value, h.Logger.All, StringComparison.Ordinal);
        }

        Assert.Contains(h.Logger.Entries, e => e.Level == LogLevel.Error && e.EventId == 3004);

        // A failure with nothing to serve is not remembered: the next read tries again.
        h.Vault.Down = false;
        Assert.Equal(TenantValue, await h.GetAsync(Name, Tenant));
    }

    [Fact]
    public async Task Get_TenantOverrideDisabled_FailsClosedInsteadOfFallingBack()
    {
        await using Harness h = await Harness.StartAsync();
        h.Vault.SetSecret(Name, SharedValue);
        h.Vault.SetSecret(Override, TenantValue);
        h.Vault.DisableSecret(Override);

        SecretUnavailableException error = await Assert.ThrowsAsync<SecretUnavailableException>(() => h.GetAsync(Name, Tenant));

        Assert.Contains("403", error.InnerException?.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(TenantValue, error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("stripe_secret_key", null)]
    [InlineData("stripe.secret", null)]
    [InlineData("", null)]
    [InlineData(Name, "acme_corp")]
    [InlineData(Name, "acme/../x")]
    [InlineData(Name, "")]
    public async Task Get_NameOrTenantOutsideKeyVaultAlphabet_Throws(string name, string? tenant)
    {
        await using Harness h = await Harness.StartAsync();

        await Assert.ThrowsAnyAsync<ArgumentException>(() => h.GetAsync(name, tenant));
        Assert.ThrowsAny<ArgumentException>(() => h.Provider.Invalidate(name, tenant));
        Assert.Equal(0, h.Vault.TotalRequests);
    }

    [Fact]
    public void Constructor_NonPositiveCacheDuration_Throws()
    {
        var client = KeyVaultSecretProvider.CreateClient(new Uri("https://kb-test.vault.azure.net/"));

        Assert.Throws<ArgumentOutOfRangeException>(() => new KeyVaultSecretProvider(
            client, TimeProvider.System, new KeyVaultSecretOptions { CacheDuration = TimeSpan.Zero }, new CapturedLogger<KeyVaultSecretProvider>()));
    }

    [Fact]
    public void CreateClient_PointsAtTheVault()
    {
        var vaultUri = new Uri("https://kb-test.vault.azure.net/");

        Assert.Equal(vaultUri, KeyVaultSecretProvider.CreateClient(vaultUri).VaultUri);
    }

    private sealed class Harness : IAsyncDisposable
    {
        private Harness(FakeKeyVault vault)
        {
            Vault = vault;
            Provider = new KeyVaultSecretProvider(vault.CreateClient(), Time, new KeyVaultSecretOptions(), Logger);
        }

        public FakeKeyVault Vault { get; }

        public FakeTimeProvider Time { get; } = new();

        public CapturedLogger<KeyVaultSecretProvider> Logger { get; } = new();

        public KeyVaultSecretProvider Provider { get; }

        public static async Task<Harness> StartAsync() => new(await FakeKeyVault.StartAsync());

        public Task<string?> GetAsync(string name, string? tenant) => Provider.GetAsync(name, tenant, CancellationToken.None).AsTask();

        public ValueTask DisposeAsync() => Vault.DisposeAsync();
    }
}
