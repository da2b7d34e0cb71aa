using Azure;
using Keybrake.Domain.Common;
using Keybrake.Domain.Operators;
using Keybrake.Functions.Proxy;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;

namespace Keybrake.Functions.Http;

/// <summary>
/// The shared frame of every operator function: authenticate the bearer token, run the handler, and turn
/// expected failures into the API's error body. Storage outages become 503 without leaking details.
/// A request that is a Stripe call (a vault key, or a Stripe host name: <see cref="StripeHostSurface"/>) never
/// reaches the handler: it is proxied to Stripe, as an SDK pointed at the app's root expects.
/// </summary>
public sealed partial class OperatorEndpoint(OperatorAuthenticator authenticator, StripeHostSurface stripe, ILogger<OperatorEndpoint> logger)
{
    public async Task<IActionResult> RunAsync(
        HttpRequest request, Func<OperatorPrincipal, Task<IActionResult>> handler, CancellationToken cancellationToken)
    {
        if (stripe.Claims(request))
        {
            // Decided here, in the frame every operator route runs first, so the Functions host and the
            // development host divert the same requests whichever route their router picked.
            await stripe.ForwardAsync(request.HttpContext, cancellationToken);
            return new EmptyResult();
        }

        try
        {
            OperatorPrincipal caller = await authenticator.AuthenticateAsync(BearerToken(request), cancellationToken);
            return await handler(caller);
        }
        catch (KeybrakeException e)
        {
            LogRefused(logger, request.Method, request.Path, e.Code);
            return ApiErrors.From(e);
        }
        catch (RequestFailedException e)
        {
            LogStorageFailed(logger, request.Method, request.Path, e.Status, e.ErrorCode);
            return ApiErrors.Error(StatusCodes.Status503ServiceUnavailable, "storage_unavailable", "Storage is unavailable; nothing was changed. Retry later.");
        }
        catch (HttpRequestException e)
        {
            LogStorageUnreachable(logger, request.Method, request.Path, e.HttpRequestError);
            return ApiErrors.Error(StatusCodes.Status503ServiceUnavailable, "storage_unavailable", "Storage is unreachable; nothing was changed. Retry later.");
        }
    }

    /// <summary>The token from <c>Authorization: Bearer …</c>, or null.</summary>
    public static string? BearerToken(HttpRequest request)
    {
        string? header = request.Headers.Authorization;
        const string scheme = "Bearer ";
        return header is not null && header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)
            ? header[scheme.Length..].Trim()
            : null;
    }

    public static int? QueryInt(HttpRequest request, string name)
    {
        string? value = request.Query[name];
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        return int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int parsed)
            ? parsed
            : throw KeybrakeException.Invalid(name, "must be a whole number.");
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Operator request {Method} {Path} refused: {Code}")]
    private static partial void LogRefused(ILogger logger, string method, PathString path, string code);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Error, Message = "Operator request {Method} {Path} failed on storage: {Status} {ErrorCode}")]
    private static partial void LogStorageFailed(ILogger logger, string method, PathString path, int status, string? errorCode);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Error, Message = "Operator request {Method} {Path} could not reach storage: {Error}")]
    private static partial void LogStorageUnreachable(ILogger logger, string method, PathString path, HttpRequestError error);
}
