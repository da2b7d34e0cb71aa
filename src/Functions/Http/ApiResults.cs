using System.Text.Json;
using Keybrake.Domain.Common;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Keybrake.Functions.Http;

/// <summary>
/// A JSON response written directly to the HTTP response, so it needs no MVC formatters and runs the
/// same under the Functions host and the development host.
/// </summary>
public sealed class ApiJsonResult(object? value, int statusCode = StatusCodes.Status200OK) : IActionResult
{
    public object? Value { get; } = value;

    public int StatusCode { get; } = statusCode;

    public async Task ExecuteResultAsync(ActionContext context)
    {
        HttpResponse response = context.HttpContext.Response;
        response.StatusCode = StatusCode;
        response.ContentType = "application/json; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        await JsonSerializer.SerializeAsync(response.Body, Value, Value?.GetType() ?? typeof(object), ApiJson.Options, context.HttpContext.RequestAborted);
    }
}

/// <summary>Maps domain failures to the operator API's <c>{"error":{"code","message"}}</c> body and status, in one place.</summary>
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
        _ => StatusCodes.Status500InternalServerError,
    };

    public static ApiJsonResult From(KeybrakeException e) => Error(StatusOf(e.Kind), e.Code, e.Message);

    public static ApiJsonResult Error(int status, string code, string message) =>
        new(new { error = new { code, message } }, status);
}
