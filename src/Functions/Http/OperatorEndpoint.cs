using System.Text.Json;
using Azure;
using Keybrake.Domain.Common;
using Keybrake.Domain.Operators;
using Keybrake.Functions.Proxy;
using Keybrake.Infrastructure.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Infrastructure;
using Microsoft.Extensions.Logging;

namespace Keybrake.Functions.Http;

/// <summary>
/// The shared frame of every operator function: authenticate the bearer token, run the handler, and turn
/// expected failures into the API's error body. Storage outages become 503 without leaking details.
/// A request that is a Stripe call (a vault key, or a Stripe host name: <see cref="StripeHostSurface"/>) never
/// reaches the handler: it is proxied to Stripe, as an SDK pointed at the app's root expects.
/// </summary>
public sealed partial class OperatorEndpoint(
    OperatorAuthenticator authenticator, IOperatorAuditLog operatorAudit, StripeHostSurface stripe, TimeProvider time, ILogger<OperatorEndpoint> logger)
{
    /// <summary>
    /// A write on the operator API, audited: after authentication a <c>started</c> row is written before the
    /// handler runs (a write that cannot be audited is not made: storage down is a 503 and nothing changed),
    /// then completed with the outcome, the target and, for settings, before/after. A refused write keeps
    /// its row too (who tried what matters as much as what changed).
    /// </summary>
    public Task<IActionResult> RunWriteAsync(
        HttpRequest request, Func<OperatorPrincipal, Task<OperatorWrite>> handler, CancellationToken cancellationToken) =>
        RunAsync(request, async caller =>
        {
            DateTimeOffset now = time.GetUtcNow();
            var started = new OperatorAction
            {
                Id = OperatorAction.NewId(now),
                Timestamp = now,
                Operator = caller.TokenId,
                Tenant = caller.Tenant,
                Method = request.Method.ToUpperInvariant(),

                // Percent-encoded, so whatever the path held is storable text; bounded like every stored string.
                Route = Bounded(request.Path.ToUriComponent()),
                Outcome = OperatorActionOutcome.Started,
            };
            await operatorAudit.RecordAsync(started, cancellationToken);

            OperatorWrite write;
            try
            {
                write = await handler(caller);
            }
            catch (KeybrakeException e)
            {
                await CompleteAsync(started with { Outcome = OperatorActionOutcome.Refused, Status = ApiErrors.StatusOf(e.Kind) });
                throw;
            }
            catch (Exception e) when (StorageFailures.IsStorageFailure(e, cancellationToken))
            {
                await CompleteAsync(started with { Outcome = OperatorActionOutcome.Failed, Status = StatusCodes.Status503ServiceUnavailable });
                throw;
            }

            await CompleteAsync(started with
            {
                Outcome = OperatorActionOutcome.Applied,
                Status = (write.Result as IStatusCodeActionResult)?.StatusCode ?? StatusCodes.Status200OK,
                Tenant = write.Tenant ?? caller.Tenant,
                Target = write.Target is null ? null : Bounded(write.Target),
                Before = write.Before is null ? null : Bounded(JsonSerializer.Serialize(write.Before, ApiJson.Options)),
                After = write.After is null ? null : Bounded(JsonSerializer.Serialize(write.After, ApiJson.Options)),
            });
            return write.Result;
        }, cancellationToken);

    /// <summary>
    /// The outcome is recorded even if the client has gone (the change happened). If storage fails here the
    /// started row stays, saying an attempt was made; the answer still reports what happened to the change.
    /// </summary>
    private async Task CompleteAsync(OperatorAction completed)
    {
        try
        {
            await operatorAudit.RecordAsync(completed, CancellationToken.None);
        }
        catch (Exception e) when (StorageFailures.IsStorageFailure(e, CancellationToken.None))
        {
            LogAuditCompletionFailed(logger, completed.Method, completed.Route, completed.Outcome, StorageFailures.Describe(e));
        }
    }

    private static string Bounded(string value) => value.Length <= 16_000 ? value : value[..16_000] + "…";

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

        // Answers carry spend, tokens and settings: no shared cache or browser history may keep them.
        request.HttpContext.Response.Headers.CacheControl = "no-store";
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
        catch (Exception e) when (StorageFailures.IsStorageFailure(e, cancellationToken))
        {
            // The same classification as the proxy's: a refused request, an unreachable account or the SDK's
            // own timeout all mean "storage is out", never a bare 500.
            LogStorageFailed(logger, request.Method, request.Path, e.GetType().Name, (e as RequestFailedException)?.ErrorCode);
            return ApiErrors.Error(StatusCodes.Status503ServiceUnavailable, "storage_unavailable", "Storage is unavailable; retry later. A write may not have been applied.");
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

    [LoggerMessage(EventId = 1004, Level = LogLevel.Error, Message = "Operator action {Method} {Route} ended {Outcome} but its audit row could not be completed ({ErrorType})")]
    private static partial void LogAuditCompletionFailed(ILogger logger, string method, string route, string outcome, string errorType);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Operator request {Method} {Path} refused: {Code}")]
    private static partial void LogRefused(ILogger logger, string method, PathString path, string code);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Error, Message = "Operator request {Method} {Path} failed on storage: {ErrorType} {ErrorCode}")]
    private static partial void LogStorageFailed(ILogger logger, string method, PathString path, string errorType, string? errorCode);
}

/// <summary>
/// What a write handler reports for the operator audit: the answer, what it acted on, the tenant concerned
/// (null: the caller's own, or platform-wide for root) and, for settings, the API view before and after.
/// Never put a secret here: these are stored.
/// </summary>
public sealed record OperatorWrite(IActionResult Result, string? Target, string? Tenant = null, object? Before = null, object? After = null);
