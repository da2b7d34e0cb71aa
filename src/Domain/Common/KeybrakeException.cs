namespace Keybrake.Domain.Common;

/// <summary>What went wrong, independent of transport; the HTTP layer maps each kind to a status in one place.</summary>
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
}

/// <summary>
/// An expected failure with a stable machine-readable code and a message safe to show a caller.
/// Messages must never contain secrets: they are returned to clients as they are.
/// </summary>
public sealed class KeybrakeException(ErrorKind kind, string code, string message) : Exception(message)
{
    public ErrorKind Kind { get; } = kind;

    public string Code { get; } = code;

    public static KeybrakeException Invalid(string field, string message) =>
        new(ErrorKind.Validation, "invalid_request", $"{field}: {message}");

    public static KeybrakeException NotFound(string what) =>
        new(ErrorKind.NotFound, "not_found", $"{what} was not found.");

    public static KeybrakeException Forbidden(string message) =>
        new(ErrorKind.Forbidden, "forbidden", message);

    public static KeybrakeException Unauthorized(string message) =>
        new(ErrorKind.Unauthorized, "unauthorized", message);
}
