namespace Keybrake.Infrastructure.Secrets;

/// <summary>How long <see cref="KeyVaultSecretProvider"/> trusts what it read from Key Vault (section <c>KeyVault</c>).</summary>
public sealed class KeyVaultSecretOptions
{
    /// <summary>How long a read (a value or "no such secret") is served from memory before Key Vault is asked again.</summary>
    public TimeSpan CacheDuration { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// After a refresh failed and the last known value is served instead, how long to keep serving it before
    /// trying Key Vault again, so an outage does not put a Key Vault call on every proxied request.
    /// </summary>
    public TimeSpan FailureRetryInterval { get; set; } = TimeSpan.FromSeconds(30);
}
