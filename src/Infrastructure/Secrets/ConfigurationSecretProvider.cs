using Keybrake.Domain.Secrets;
using Microsoft.Extensions.Configuration;

namespace Keybrake.Infrastructure.Secrets;

/// <summary>Secrets from configuration (<c>Secrets__{name}</c>), for local runs without Key Vault.</summary>
public sealed class ConfigurationSecretProvider(IConfiguration configuration) : ISecretProvider
{
    public ValueTask<string?> GetAsync(string name, string? tenant, CancellationToken cancellationToken)
    {
        IConfigurationSection section = configuration.GetSection("Secrets");
        string? value = tenant is null ? null : section[SecretNames.ForTenant(name, tenant)];
        return ValueTask.FromResult(string.IsNullOrEmpty(value) ? NullIfEmpty(section[name]) : value);
    }

    public void Invalidate(string name, string? tenant)
    {
        // Configuration is re-read on every call; nothing is cached.
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
