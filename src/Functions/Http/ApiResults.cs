using Keybrake.Domain.Common;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Keybrake.Functions.Http;

/// <summary>
/// Maps domain failures to HTTP statuses, in one place for the operator API and the proxy, and to the operator API's
/// <c>{"error":{"code","message"}}</c> body (the proxy answers in each vendor's own error shape instead).
/// </summary>
public static class ApiErrors
{
    public static int StatusOf(ErrorKind kind) => kind switch
    {
        ErrorKind.Validation => StatusCodes.Status400BadRequest,
        ErrorKind.Unauthorized => StatusCodes.Status401Unauthorized,
        ErrorKind.Forbidden => StatusCodes.Status403Forbidden,
        ErrorKind.NotFound => StatusCodes.Status404NotFound,
        ErrorKind.Conflict => StatusCodes.Status409Conflict,
        ErrorKind.PayloadTooLarge => StatusCodes.Status413PayloadTooLarge,
        ErrorKind.RateLimited => StatusCodes.Status429TooManyRequests,
        ErrorKind.Unavailable => StatusCodes.Status503ServiceUnavailable,
        ErrorKind.UpstreamFailed => StatusCodes.Status502BadGateway,
        ErrorKind.UpstreamTimeout => StatusCodes.Status504GatewayTimeout,
        _ => StatusCodes.Status500InternalServerError,
    };

    public static JsonResult From(KeybrakeException e) => Error(StatusOf(e.Kind), e.Code, e.Message);

    public static JsonResult Error(int status, string code, string message) =>
        ApiJson.Result(new { error = new { code, message } }, status);
}
