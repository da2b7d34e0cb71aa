using System.Diagnostics;
using Keybrake.Domain.Common;
using Keybrake.Domain.Proxy;
using Keybrake.Domain.Reconciliation;
using Keybrake.Domain.Vendors;
using Keybrake.Functions.Http;
using Keybrake.Infrastructure.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Keybrake.Functions.Proxy;

/// <summary>One proxied call, from the agent's request to the vendor's answer. Nothing is forwarded unless the intent is durably written.</summary>
/// <remarks>
/// The steps, marked <c>// :: Step N</c> below (docs/architecture.md names the file of each):
/// <list type="number">
/// <item>Vendor: the route's vendor (<see cref="VendorRegistry"/>), else 404.</item>
/// <item>Gate: vault key, vendor, allowlist (<see cref="ProxyGate"/>).</item>
/// <item>Read: the body, at most 1 MB, into a <see cref="ProxyCall"/> (<see cref="ProxyRequestReader"/>).</item>
/// <item>Estimate: the most the call may cost (<see cref="VendorDefinition.Estimate"/>).</item>
/// <item>Secrets: the tenant's real credentials (<see cref="VendorHttp"/>).</item>
/// <item>Bound: a vendor look-up or the whole remaining allowance where the request gives no bound (<see cref="CallAccounting"/>).</item>
/// <item>Ownership: on a shared vendor account, every object the call names is the tenant's (<see cref="ObjectOwnershipGuard"/>).</item>
/// <item>Admit: the intent row and the reservation written together; a cap or a loop refuses, a replay reserves nothing (<see cref="CallAccounting"/>).</item>
/// <item>Forward: the request with the real credentials, on the vendor's client (<see cref="VendorHttp"/>).</item>
/// <item>Outcome: the cost and audit outcome from the answer or the failure (<see cref="CallOutcome"/>, pure, in Domain).</item>
/// <item>Record: the outcome row and the settlement of the reservation (<see cref="CallAccounting"/>).</item>
/// <item>Answer: ownership applied to the answer, headers and body scrubbed of credentials (<see cref="ProxyResponseWriter"/>).</item>
/// </list>
/// A refusal at any step is a <see cref="KeybrakeException"/> (its kind mapped to a status by <see cref="ApiErrors.StatusOf"/>):
/// audited under the key when one was identified, and answered in the vendor's error shape. Storage that cannot be reached before the intent is a 503; nothing is forwarded.
/// </remarks>
public sealed partial class ProxyPipeline(
    VendorRegistry vendors,
    ProxyGate gate,
    CallAccounting accounting,
    VendorHttp vendorHttp,
    ObjectOwnershipGuard ownership,
    ILogger<ProxyPipeline> logger)
{
    public async Task HandleAsync(HttpContext context, string vendorName, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();

        // :: Step 1 Vendor
        VendorDefinition? vendor = vendors.Find(vendorName);
        if (vendor is null)
        {
            await ProxyResponseWriter.WriteUnknownVendorAsync(context.Response, vendors.Names);
            return;
        }

        HttpRequest request = context.Request;
        string method = request.Method.ToUpperInvariant();
        try
        {
            // :: Step 2 Gate
            AuthorizedCall authorized = await gate.AuthorizeAsync(
                vendor, method, ProxyRequestReader.RawVendorPath(context, vendorName), request.Headers.Authorization, cancellationToken);

            // :: Step 3 Read
            ProxyCall call = await ProxyRequestReader.ReadCallAsync(request, authorized, cancellationToken);

            // :: Step 4 Estimate
            CostEstimate estimate = Estimate(authorized, call);

            // :: Step 5 Secrets
            (Dictionary<string, string>? secrets, _) = await vendorHttp.ReadSecretsAsync(vendor, authorized.Key.Tenant, cancellationToken);
            if (secrets is null)
            {
                throw new KeybrakeException(ErrorKind.Unavailable, "vendor_credentials_unavailable",
                    $"Keybrake has no usable {vendor.Name} credentials for this tenant; nothing was forwarded.") { Key = authorized.Key, Operation = authorized.Operation };
            }

            // :: Step 6 Bound
            estimate = await accounting.BoundAsync(authorized, call, estimate, cancellationToken);

            // :: Step 7 Ownership
            OwnershipCheck owned = await ownership.CheckAsync(request, authorized, call, secrets, cancellationToken);

            // :: Step 8 Admit
            Admission admission = await accounting.AdmitAsync(authorized, owned.Call, estimate, cancellationToken);

            await ForwardAsync(context, authorized, owned.Call, estimate, secrets, owned, admission, started, cancellationToken);
        }
        catch (KeybrakeException denial)
        {
            int status = ApiErrors.StatusOf(denial.Kind);
            string? auditId = await accounting.RecordDenialAsync(denial, status, vendor.Name, method, ProxyRequestReader.SafePath(context, vendor.Name), cancellationToken);
            LogDenied(logger, vendor.Name, method, status, denial.Code);
            await ProxyResponseWriter.WriteVendorErrorAsync(context.Response, vendor, status, denial.Code, denial.Message, auditId);
        }
        catch (Exception e) when (StorageFailures.IsStorageFailure(e, cancellationToken))
        {
            // The key could not be looked up: without it nothing can be checked, so nothing is forwarded.
            LogStorageUnavailable(logger, vendor.Name, StorageFailures.Describe(e));
            await ProxyResponseWriter.WriteVendorErrorAsync(context.Response, vendor, 503, "storage_unavailable",
                "Keybrake cannot reach its storage, so this call was not forwarded. Retry later.", auditId: null);
        }
    }

    private async Task ForwardAsync(
        HttpContext context, AuthorizedCall authorized, ProxyCall call, CostEstimate estimate, Dictionary<string, string> secrets,
        OwnershipCheck owned, Admission admission, long started, CancellationToken cancellationToken)
    {
        // :: Step 9 Forward
        VendorDefinition vendor = authorized.Vendor;
        UpstreamAuthorization auth = vendor.Authorize(secrets, call.Segments);
        ReadOnlyMemory<byte> body = vendor.TagForLookup(call, CallReference.For(authorized.Key.Id, call.IdempotencyKey, admission.Intent.Id));
        using HttpRequestMessage upstream = vendorHttp.ProxiedRequest(context.Request, vendor, call, body, auth);
        owned.ApplyHeaders(upstream);
        using UpstreamDeadline deadline = vendorHttp.Deadline(vendor, cancellationToken);
        long upstreamStarted = Stopwatch.GetTimestamp();
        HttpResponseMessage response;
        try
        {
            response = await vendorHttp.SendAsync(vendor, authorized.Key.Tenant, upstream, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
        {
            await FailAsync(context, vendor, admission, call, estimate, e, deadline.TimedOut, started);
            return;
        }

        using (response)
        {
            int status = (int)response.StatusCode;
            UpstreamHead head = UpstreamHead.None;
            Stream upstreamBody;
            try
            {
                upstreamBody = await response.Content.ReadAsStreamAsync(deadline.Token);
                if (status is >= 200 and < 300 && (vendor.CostNeedsResponseBody(call) || owned.NeedsResponseBody))
                {
                    head = await ProxyResponseWriter.ReadHeadAsync(upstreamBody, Math.Max(ProxyResponseWriter.MaxParsedResponseBytes, owned.ResponseReadLimit), deadline.Token);
                }
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
            {
                await FailAsync(context, vendor, admission, call, estimate, e, deadline.TimedOut, started);
                return;
            }

            using (head)
            {
                long upstreamEnded = Stopwatch.GetTimestamp();

                // :: Step 10 Outcome
                SettledCall settled = CallOutcome.Answered(
                    vendor, admission, call, estimate, status, head.WholeOrEmpty, VendorHttp.Replayed(vendor, response), VendorHttp.RequestId(vendor, response),
                    (long)Stopwatch.GetElapsedTime(upstreamStarted, upstreamEnded).TotalMilliseconds, ElapsedMs(started));
                if (settled.UnparsableCost is string error)
                {
                    LogUnparsableCost(logger, vendor.Name, call.Operation, error);
                }

                if (settled.OvershootMicros > 0)
                {
                    LogOvershoot(logger, vendor.Name, call.Operation, settled.OvershootMicros);
                }

                // :: Step 11 Record
                await accounting.RecordOutcomeAsync(admission, settled);

                // :: Step 12 Answer
                await AnswerAsync(context, response, vendor, call, owned, settled.Row, head, upstreamBody,
                    SecretScrubber.For(vendor, secrets, auth.AuthorizationHeader), ProxyResponseWriter.OverheadMs(started, upstreamStarted, upstreamEnded), cancellationToken);
            }
        }
    }

    /// <summary>Step 12: what a create made is recorded and a list cut to the tenant's objects, then the answer is streamed back.</summary>
    private async Task AnswerAsync(
        HttpContext context, HttpResponseMessage response, VendorDefinition vendor, ProxyCall call, OwnershipCheck owned, Domain.Audit.AuditEntry row,
        UpstreamHead head, Stream upstreamBody, SecretScrubber scrubber, string overheadMs, CancellationToken cancellationToken)
    {
        ResponseRewrite rewrite = row.Status is >= 200 and < 300 ? await owned.OnSuccessAsync(head.Bytes, head.Whole) : ResponseRewrite.Keep;
        if (rewrite.Refused)
        {
            await ProxyResponseWriter.WriteVendorErrorAsync(context.Response, vendor, 403, "foreign_object",
                $"The {vendor.Name} answer to {call.Operation} could not be filtered to this tenant's objects, so it is withheld.", row.Id);
            return;
        }

        if (rewrite.Body is byte[] filtered)
        {
            await ProxyResponseWriter.WriteAnswerAsync(context, response, row.Id, row.CostMicros, overheadMs, filtered, rest: null, scrubber, cancellationToken, filtered.Length);
        }
        else
        {
            await ProxyResponseWriter.WriteAnswerAsync(context, response, row.Id, row.CostMicros, overheadMs, head.Bytes, head.Whole ? null : upstreamBody, scrubber, cancellationToken);
        }

        if (scrubber.Count > 0)
        {
            LogScrubbed(logger, vendor.Name, call.Operation, scrubber.Count);
        }
    }

    /// <summary>Steps 10-12 for a call the vendor did not answer.</summary>
    private async Task FailAsync(HttpContext context, VendorDefinition vendor, Admission admission, ProxyCall call, CostEstimate estimate, Exception error, bool timedOut, long started)
    {
        bool clientGone = context.RequestAborted.IsCancellationRequested;
        UpstreamFailure failure = timedOut ? UpstreamFailure.TimedOut
            : error is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError } ? UpstreamFailure.NeverSent
            : UpstreamFailure.Broken;
        KeybrakeException refusal = CallOutcome.UpstreamError(failure);
        int status = ApiErrors.StatusOf(refusal.Kind);
        SettledCall failed = CallOutcome.Failed(admission, call, estimate, failure, status, clientGone, ElapsedMs(started));
        LogUpstreamFailed(logger, call.Vendor, call.Operation, refusal.Code, clientGone, error.GetType().Name);
        await accounting.RecordOutcomeAsync(admission, failed);
        if (!clientGone && !context.Response.HasStarted)
        {
            await ProxyResponseWriter.WriteVendorErrorAsync(context.Response, vendor, status, refusal.Code, refusal.Message, admission.Intent.Id);
        }
    }

    private static CostEstimate Estimate(AuthorizedCall authorized, ProxyCall call)
    {
        try
        {
            return authorized.Vendor.Estimate(call);
        }
        catch (KeybrakeException e)
        {
            throw new KeybrakeException(ErrorKind.Validation, e.Code, e.Message) { Key = authorized.Key, Operation = call.Operation };
        }
    }

    private static long ElapsedMs(long since) => (long)Stopwatch.GetElapsedTime(since).TotalMilliseconds;

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Proxy denied {Vendor} {Method}: {Status} {Code}")]
    private static partial void LogDenied(ILogger logger, string vendor, string method, int status, string code);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Proxy call to {Vendor} {Operation} failed upstream: {Code} (client gone: {ClientGone}, {ErrorType})")]
    private static partial void LogUpstreamFailed(ILogger logger, string vendor, string operation, string code, bool clientGone, string errorType);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Warning, Message = "Cost of {Vendor} {Operation} could not be parsed ({ErrorType}); the estimate stands")]
    private static partial void LogUnparsableCost(ILogger logger, string vendor, string operation, string errorType);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Error, Message = "Proxy call to {Vendor} refused: storage unavailable ({ErrorType})")]
    private static partial void LogStorageUnavailable(ILogger logger, string vendor, string errorType);

    [LoggerMessage(EventId = 2008, Level = LogLevel.Warning, Message = "{Vendor} {Operation} cost {OvershootMicros} micro-dollars more than it reserved")]
    private static partial void LogOvershoot(ILogger logger, string vendor, string operation, long overshootMicros);

    [LoggerMessage(EventId = 2009, Level = LogLevel.Warning, Message = "Scrubbed {Count} occurrence(s) of a {Vendor} credential from the answer to {Operation}")]
    private static partial void LogScrubbed(ILogger logger, string vendor, string operation, int count);
}
