using Keybrake.Domain.Keys;

namespace Keybrake.Domain.Common;

/// <summary>What went wrong, independent of transport; the HTTP layer maps each kind to a status in one place (<c>ApiErrors.StatusOf</c>).</summary>
public enum ErrorKind
{
    Validation,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    PayloadTooLarge,
    RateLimited,
    Unavailable,

    /// <summary>A vendor Keybrake depends on failed or could not be reached.</summary>
    UpstreamFailed,

    /// <summary>A vendor did not answer in time.</summary>
    UpstreamTimeout,
}

/// <summary>
/// An expected failure or refusal with a stable machine-readable code and a message safe to show a caller: the one
/// error model of the operator API and the proxy. On the proxy, <see cref="Key"/> and <see cref="Operation"/> say what
/// was known when the call was refused, so the refusal is audited under the key's tenant.
/// Messages must never contain secrets: they are returned to clients as they are.
/// </summary>
public sealed class KeybrakeException(ErrorKind kind, string code, string message) : Exception(message)
{
    public ErrorKind Kind { get; } = kind;

    public string Code { get; } = code;

    /// <summary>The vault key the refused call presented, once identified.</summary>
    public VaultKey? Key { get; init; }

    /// <summary>The vendor operation the refused call named, once known.</summary>
    public string? Operation { get; init; }

    /// <summary>The same error, now known to concern this key and operation.</summary>
    public KeybrakeException About(VaultKey? key, string? operation = null) => new(Kind, Code, Message) { Key = key, Operation = operation };

    public static KeybrakeException Invalid(string field, string message) =>
        new(ErrorKind.Validation, "invalid_request", $"{field}: {message}");

    public static KeybrakeException NotFound(string what) =>
        new(ErrorKind.NotFound, "not_found", $"{what} was not found.");

    public static KeybrakeException Forbidden(string message) =>
        new(ErrorKind.Forbidden, "forbidden", message);

    public static KeybrakeException Unauthorized(string message) =>
        new(ErrorKind.Unauthorized, "unauthorized", message);
}
