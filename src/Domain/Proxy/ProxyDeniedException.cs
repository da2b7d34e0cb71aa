using Keybrake.Domain.Keys;

namespace Keybrake.Domain.Proxy;

/// <summary>
/// A call the proxy refuses. Carries what is known so far so the denial can be audited under the key's
/// tenant (when a key was identified) and answered in the vendor's error shape.
/// </summary>
public sealed class ProxyDeniedException(int status, string code, string message, VaultKey? key = null, string? operation = null) : Exception(message)
{
    public int Status { get; } = status;

    public string Code { get; } = code;

    public VaultKey? Key { get; } = key;

    public string? Operation { get; } = operation;
}
