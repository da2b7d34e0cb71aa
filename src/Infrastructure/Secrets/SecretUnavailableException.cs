namespace Keybrake.Infrastructure.Secrets;

/// <summary>
/// A secret could not be read and no earlier value is known. The message names the secret, never a value;
/// callers fail closed (the proxy answers 503).
/// </summary>
public sealed class SecretUnavailableException : Exception
{
    public SecretUnavailableException()
        : base("A secret could not be read from Key Vault.")
    {
    }

    public SecretUnavailableException(string message)
        : base(message)
    {
    }

    public SecretUnavailableException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The Key Vault secret name that could not be read.</summary>
    public string? SecretName { get; private init; }

    internal static SecretUnavailableException For(string secretName, Exception innerException) =>
        new($"Secret '{secretName}' could not be read from Key Vault and no earlier value is cached.", innerException)
        {
            SecretName = secretName,
        };
}
