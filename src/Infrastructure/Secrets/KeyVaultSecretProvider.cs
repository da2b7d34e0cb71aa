using System.Buffers;
using Azure;
using Azure.Core;
using Azure.Identity;
using Azure.Security.KeyVault.Secrets;
using Keybrake.Domain.Common;
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
    private readonly TimeSpan _cacheDuration;
    private readonly TimeSpan _failureRetryInterval;
    private readonly ILogger<KeyVaultSecretProvider> _logger;
    private readonly SingleFlightCache<string, string?> _secrets;

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
        _cacheDuration = options.CacheDuration;
        _failureRetryInterval = options.FailureRetryInterval;
        _logger = logger;

        // Key Vault secret names are case-insensitive, and so is this cache. Expired values are kept: they are the
        // fallback while Key Vault cannot be reached.
        _secrets = new SingleFlightCache<string, string?>(
            ReadAsync,
            time,
            new SingleFlightCacheOptions { Lifetime = options.CacheDuration, KeepExpired = true },
            StringComparer.OrdinalIgnoreCase);
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
    private ValueTask<string?> GetEntryAsync(string secretName, CancellationToken cancellationToken) =>
        _secrets.GetAsync(secretName, cancellationToken);

    /// <summary>
    /// One Key Vault read, shared by every reader that arrives meanwhile (so it runs on no reader's token; the SDK's
    /// retry and network timeout bound it). A failure with a last known value serves that value for a while.
    /// </summary>
    private async Task<CachedValue<string?>> ReadAsync(string secretName, CachedValue<string?>? lastKnown)
    {
        try
        {
            Response<KeyVaultSecret> response = await _client.GetSecretAsync(secretName, version: null, CancellationToken.None);
            KeyVaultSecret secret = response.Value;
            LogSecretRead(_logger, secretName, secret.Properties.Version);
            return new CachedValue<string?>(string.IsNullOrEmpty(secret.Value) ? null : secret.Value, _cacheDuration);
        }
        catch (RequestFailedException exception) when (exception.Status == 404)
        {
            // Only "not found" means absent. Anything else (403: disabled or no access; 5xx) is a failure: taking it
            // for absent would silently send a tenant that has its own account through the shared one.
            LogSecretAbsent(_logger, secretName);
            return new CachedValue<string?>(null, _cacheDuration);
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            (int status, string? errorCode) = exception is RequestFailedException failed ? (failed.Status, failed.ErrorCode) : (0, null);
            if (lastKnown is null)
            {
                LogReadFailedNothingKnown(_logger, secretName, status, errorCode, exception);
                throw SecretUnavailableException.For(secretName, exception);
            }

            // Still the last known good secret: keep serving it, and ask again only after a pause.
            LogServingLastKnown(_logger, secretName, status, errorCode, exception);
            return new CachedValue<string?>(lastKnown.Value, _failureRetryInterval);
        }
    }

    /// <summary>
    /// Forgets the in-flight request (it may predate a rotation) and makes the next read fetch afresh. The value
    /// itself is kept, expired, as the fallback should Key Vault be unreachable right now.
    /// </summary>
    private void InvalidateEntry(string secretName) => _secrets.Invalidate(secretName);

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
}
