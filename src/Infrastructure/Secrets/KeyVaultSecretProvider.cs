using System.Buffers;
using System.Collections.Concurrent;
using Azure;
using Azure.Core;
using Azure.Identity;
using Azure.Security.KeyVault.Secrets;
using Keybrake.Domain.Secrets;
using Microsoft.Extensions.Logging;

namespace Keybrake.Infrastructure.Secrets;

/// <summary>
/// Secrets from Azure Key Vault, cached in memory per secret name — misses included, because the proxy asks for
/// <c>{name}--{tenant}</c> on every call and most tenants have no override. Once warm, reads make no Key Vault
/// call until an entry is older than <see cref="KeyVaultSecretOptions.CacheDuration"/> or is invalidated.
/// Concurrent readers of an entry that needs fetching share one Key Vault request. A failed refresh serves the
/// last known value; with none, <see cref="SecretUnavailableException"/> (the proxy fails closed).
/// </summary>
public sealed partial class KeyVaultSecretProvider : ISecretProvider
{
    /// <summary>Key Vault's limit on secret names.</summary>
    private const int MaxSecretNameLength = 127;

    private static readonly SearchValues<char> KeyVaultNameCharacters =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-");

    private readonly SecretClient _client;
    private readonly TimeProvider _time;
    private readonly TimeSpan _cacheDuration;
    private readonly TimeSpan _failureRetryInterval;
    private readonly ILogger<KeyVaultSecretProvider> _logger;

    // Key Vault secret names are case-insensitive, and so is this cache.
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.OrdinalIgnoreCase);

    public KeyVaultSecretProvider(
        SecretClient client,
        TimeProvider time,
        KeyVaultSecretOptions options,
        ILogger<KeyVaultSecretProvider> logger)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.CacheDuration, TimeSpan.Zero, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.FailureRetryInterval, TimeSpan.Zero, nameof(options));

        _client = client;
        _time = time;
        _cacheDuration = options.CacheDuration;
        _failureRetryInterval = options.FailureRetryInterval;
        _logger = logger;
    }

    /// <summary>
    /// A <see cref="SecretClient"/> for <paramref name="vaultUri"/> authenticated with <see cref="DefaultAzureCredential"/>:
    /// in Azure the user-assigned managed identity whose client id is in <c>AZURE_CLIENT_ID</c> (system-assigned when unset),
    /// locally the developer's Azure CLI / azd / Visual Studio sign-in. Retries are short: a reader waits for a refresh.
    /// </summary>
    public static SecretClient CreateClient(Uri vaultUri)
    {
        ArgumentNullException.ThrowIfNull(vaultUri);

        // DefaultAzureCredentialOptions.ManagedIdentityClientId already defaults to AZURE_CLIENT_ID; set explicitly
        // so the choice of identity is visible here.
        var credential = new DefaultAzureCredential(new DefaultAzureCredentialOptions
        {
            ManagedIdentityClientId = Environment.GetEnvironmentVariable("AZURE_CLIENT_ID"),
        });
        var options = new SecretClientOptions();
        options.Retry.Mode = RetryMode.Exponential;
        options.Retry.MaxRetries = 2;
        options.Retry.Delay = TimeSpan.FromMilliseconds(200);
        options.Retry.MaxDelay = TimeSpan.FromSeconds(2);
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(5);
        return new SecretClient(vaultUri, credential, options);
    }

    public ValueTask<string?> GetAsync(string name, string? tenant, CancellationToken cancellationToken)
    {
        ValidateName(name, tenant);
        if (tenant is null)
        {
            return GetEntryAsync(name, cancellationToken);
        }

        ValueTask<string?> tenantValue = GetEntryAsync(SecretNames.ForTenant(name, tenant), cancellationToken);
        if (tenantValue.IsCompletedSuccessfully)
        {
            string? value = tenantValue.Result;
            return value is null ? GetEntryAsync(name, cancellationToken) : ValueTask.FromResult<string?>(value);
        }

        return FallBackAsync(tenantValue, name, cancellationToken);
    }

    public void Invalidate(string name, string? tenant)
    {
        ValidateName(name, tenant);
        if (tenant is not null)
        {
            InvalidateEntry(SecretNames.ForTenant(name, tenant));
        }

        InvalidateEntry(name);
    }

    private async ValueTask<string?> FallBackAsync(ValueTask<string?> tenantValue, string name, CancellationToken cancellationToken) =>
        await tenantValue ?? await GetEntryAsync(name, cancellationToken);

    /// <summary>The hot path: a cached read completes synchronously, without locking or calling Key Vault.</summary>
    private ValueTask<string?> GetEntryAsync(string secretName, CancellationToken cancellationToken)
    {
        Entry entry = _entries.GetOrAdd(secretName, static _ => new Entry());
        CachedSecret? current = Volatile.Read(ref entry.Current);
        return current is not null && _time.GetUtcNow() < current.RefreshAt
            ? ValueTask.FromResult(current.Value)
            : FetchAsync(entry, secretName, cancellationToken);
    }

    private async ValueTask<string?> FetchAsync(Entry entry, string secretName, CancellationToken cancellationToken)
    {
        Task<Outcome> pending;
        TaskCompletionSource<Outcome>? refresh = null;
        long generation;
        lock (entry.Gate)
        {
            CachedSecret? current = entry.Current;
            if (current is not null && _time.GetUtcNow() < current.RefreshAt)
            {
                return current.Value;
            }

            if (entry.Pending is null)
            {
                refresh = new TaskCompletionSource<Outcome>(TaskCreationOptions.RunContinuationsAsynchronously);
                entry.Pending = refresh.Task;
            }

            pending = entry.Pending;
            generation = entry.Generation;
        }

        if (refresh is not null)
        {
            // Shared by every reader that arrives meanwhile, so no one reader's cancellation may stop it; each reader
            // stops waiting on its own token below. The SDK's retry and network timeout bound the request itself.
            _ = RefreshAsync(entry, secretName, generation, refresh);
        }

        Outcome outcome = await pending.WaitAsync(cancellationToken);
        return outcome.Secret is { } secret
            ? secret.Value
            : throw SecretUnavailableException.For(secretName, outcome.Failure!);
    }

    /// <summary>Reads one secret from Key Vault and publishes the outcome. Never throws: it completes <paramref name="refresh"/>.</summary>
    private async Task RefreshAsync(Entry entry, string secretName, long generation, TaskCompletionSource<Outcome> refresh)
    {
        Outcome outcome;
        try
        {
            CachedSecret fresh = await ReadAsync(secretName);
            Publish(entry, generation, fresh);
            outcome = new Outcome(fresh, null);
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            outcome = OnReadFailed(entry, secretName, generation, exception);
        }

        refresh.SetResult(outcome);
    }

    private async Task<CachedSecret> ReadAsync(string secretName)
    {
        try
        {
            Response<KeyVaultSecret> response = await _client.GetSecretAsync(secretName, version: null, CancellationToken.None);
            KeyVaultSecret secret = response.Value;
            LogSecretRead(_logger, secretName, secret.Properties.Version);
            return new CachedSecret(string.IsNullOrEmpty(secret.Value) ? null : secret.Value, _time.GetUtcNow() + _cacheDuration);
        }
        catch (RequestFailedException exception) when (exception.Status == 404)
        {
            // Only "not found" means absent. Anything else (403: disabled or no access; 5xx) is a failure: taking it
            // for absent would silently send a tenant that has its own account through the shared one.
            LogSecretAbsent(_logger, secretName);
            return new CachedSecret(null, _time.GetUtcNow() + _cacheDuration);
        }
    }

    private Outcome OnReadFailed(Entry entry, string secretName, long generation, Exception exception)
    {
        (int status, string? errorCode) = exception is RequestFailedException failed ? (failed.Status, failed.ErrorCode) : (0, null);
        CachedSecret? stale;
        lock (entry.Gate)
        {
            stale = entry.Current;
        }

        if (stale is null)
        {
            Publish(entry, generation, null);
            LogReadFailedNothingKnown(_logger, secretName, status, errorCode, exception);
            return new Outcome(null, exception);
        }

        // Still the last known good secret: keep serving it, and ask again only after a pause.
        var extended = new CachedSecret(stale.Value, _time.GetUtcNow() + _failureRetryInterval);
        Publish(entry, generation, extended);
        LogServingLastKnown(_logger, secretName, status, errorCode, exception);
        return new Outcome(extended, null);
    }

    /// <summary>Ends a request: stores its answer unless an Invalidate came while it was in flight (that one's readers fetch anew).</summary>
    private static void Publish(Entry entry, long generation, CachedSecret? secret)
    {
        lock (entry.Gate)
        {
            if (entry.Generation != generation)
            {
                return;
            }

            if (secret is not null)
            {
                Volatile.Write(ref entry.Current, secret);
            }

            entry.Pending = null;
        }
    }

    private void InvalidateEntry(string secretName)
    {
        if (!_entries.TryGetValue(secretName, out Entry? entry))
        {
            return;
        }

        lock (entry.Gate)
        {
            // Forget the in-flight request (it may predate a rotation) and make the next read fetch afresh. The value
            // itself is kept, expired, as the fallback should Key Vault be unreachable right now.
            entry.Generation++;
            entry.Pending = null;
            if (entry.Current is { } current)
            {
                Volatile.Write(ref entry.Current, new CachedSecret(current.Value, DateTimeOffset.MinValue));
            }
        }
    }

    private static void ValidateName(string name, string? tenant)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (!IsKeyVaultName(name))
        {
            throw new ArgumentException($"Secret name '{name}' may contain only letters, digits and '-'.", nameof(name));
        }

        if (tenant is null)
        {
            return;
        }

        ArgumentException.ThrowIfNullOrEmpty(tenant);
        if (!IsKeyVaultName(tenant) || SecretNames.ForTenant(name, tenant).Length > MaxSecretNameLength)
        {
            throw new ArgumentException(
                $"Tenant '{tenant}' may contain only letters, digits and '-', and '{name}--{{tenant}}' must fit Key Vault's {MaxSecretNameLength} characters.",
                nameof(tenant));
        }
    }

    private static bool IsKeyVaultName(string value) =>
        value.Length <= MaxSecretNameLength && value.AsSpan().IndexOfAnyExcept(KeyVaultNameCharacters) < 0;

    [LoggerMessage(EventId = 3001, Level = LogLevel.Debug, Message = "Read secret {SecretName} (version {SecretVersion}) from Key Vault")]
    private static partial void LogSecretRead(ILogger logger, string secretName, string? secretVersion);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Debug, Message = "Secret {SecretName} does not exist in Key Vault; remembered as absent")]
    private static partial void LogSecretAbsent(ILogger logger, string secretName);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "Key Vault read of secret {SecretName} failed ({Status} {ErrorCode}); serving the last known value")]
    private static partial void LogServingLastKnown(ILogger logger, string secretName, int status, string? errorCode, Exception exception);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Error, Message = "Key Vault read of secret {SecretName} failed ({Status} {ErrorCode}) and no earlier value is known")]
    private static partial void LogReadFailedNothingKnown(ILogger logger, string secretName, int status, string? errorCode, Exception exception);

    /// <summary>Per secret name: what is known, and the request that is fetching it, if any. Guarded by <see cref="Gate"/>.</summary>
    private sealed class Entry
    {
        public readonly Lock Gate = new();

        /// <summary>Written under <see cref="Gate"/>, read without it on the hot path (hence replaced whole, never mutated).</summary>
        public CachedSecret? Current;

        public Task<Outcome>? Pending;

        /// <summary>Bumped by Invalidate, so a request begun before it cannot publish its (possibly pre-rotation) answer.</summary>
        public long Generation;
    }

    /// <summary>What a Key Vault request ended with: the secret to serve, or (nothing being known) the failure.</summary>
    private sealed class Outcome(CachedSecret? secret, Exception? failure)
    {
        public CachedSecret? Secret { get; } = secret;

        public Exception? Failure { get; } = failure;
    }

    /// <summary>A value (null when the secret does not exist) and when to ask again. Deliberately not a record: no ToString with the value.</summary>
    private sealed class CachedSecret(string? value, DateTimeOffset refreshAt)
    {
        public string? Value { get; } = value;

        public DateTimeOffset RefreshAt { get; } = refreshAt;
    }
}
