using System.Buffers;
using System.Diagnostics;
using Azure;
using Keybrake.Domain.Alerts;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Caps;
using Keybrake.Domain.Common;
using Keybrake.Domain.Proxy;
using Keybrake.Domain.Reconciliation;
using Keybrake.Domain.Secrets;
using Keybrake.Domain.Vendors;
using Keybrake.Infrastructure.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Keybrake.Functions.Proxy;

/// <summary>
/// One proxied call: policy (key, vendor, allowlist), the request estimate, the audit intent, the real
/// secret, the upstream call, the cost from the answer, the audit outcome, then the answer itself.
/// Nothing is forwarded unless the intent is durably written.
/// </summary>
public sealed partial class ProxyPipeline(
    VendorRegistry vendors,
    ProxyGate gate,
    ISecretProvider secrets,
    IReservationLedger audit,
    CapPlanner caps,
    IAlertStore alerts,
    BudgetAlerts budgetAlerts,
    IVendorLookup lookups,
    IOptions<ProxyOptions> proxyOptions,
    IHttpClientFactory httpClients,
    IOptionsMonitor<VendorEndpointOptions> endpoints,
    ObjectOwnershipGuard ownership,
    TimeProvider time,
    ILogger<ProxyPipeline> logger)
{
    public const int MaxRequestBodyBytes = 1024 * 1024;
    public const int MaxParsedResponseBytes = 1024 * 1024;

    public static string HttpClientName(string vendor) => "keybrake-vendor-" + vendor;

    public async Task HandleAsync(HttpContext context, string vendorName, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        VendorDefinition? vendor = vendors.Find(vendorName);
        if (vendor is null)
        {
            string message = $"Unknown vendor; use one of {string.Join(", ", vendors.Names.Order(StringComparer.Ordinal))}.";
            await WriteAsync(context.Response, 404, "application/json",
                System.Text.Json.JsonSerializer.Serialize(new { error = new { code = "unknown_vendor", message } }));
            return;
        }

        HttpRequest request = context.Request;
        string method = request.Method.ToUpperInvariant();
        AuthorizedCall? authorized = null;
        try
        {
            authorized = await gate.AuthorizeAsync(vendor, method, RawVendorPath(context, vendorName), request.Headers.Authorization, cancellationToken);
            ReadOnlyMemory<byte> body = await ReadBodyAsync(request, cancellationToken);
            var call = new ProxyCall(vendor.Name, method, authorized.Segments, authorized.Operation, request.ContentType, body, request.Headers["Idempotency-Key"],
                request.QueryString.Value, request.Headers.ContentEncoding.Count == 0 ? null : request.Headers.ContentEncoding.ToString());
            CostEstimate estimate = EstimateOrDeny(authorized, call);
            Dictionary<string, string> secretValues = await ReadSecretsAsync(authorized, cancellationToken);
            estimate = await BoundAsync(authorized, call, estimate, cancellationToken);

            // Step 5: on a shared vendor account, every object the call names is the tenant's (docs/design.md §3 step 5, §9).
            if (vendor.RefusedAccountHeaders.FirstOrDefault(h => request.Headers.ContainsKey(h)) is string accountSwitch)
            {
                throw new ProxyDeniedException(403, "vendor_account_not_allowed",
                    $"{accountSwitch} is not accepted through Keybrake; issue a key with vendor_account to act on a connected account.", authorized.Key, call.Operation);
            }

            OwnershipCheck owned = await ownership.CheckAsync(
                authorized, call, request.QueryString.Value,
                vendor.AccountHeader is string accountHeader && request.Headers.TryGetValue(accountHeader, out var account) ? account.ToString() : null,
                secretValues, cancellationToken);
            await ForwardAsync(context, authorized, owned.Call, estimate, secretValues, owned, started, cancellationToken);
        }
        catch (ProxyDeniedException denial)
        {
            await DenyAsync(context, vendor, method, denial, cancellationToken);
        }
        catch (Exception e) when (IsStorageFailure(e, cancellationToken))
        {
            // The key could not be looked up: without it nothing can be checked, so nothing is forwarded.
            LogStorageUnavailable(logger, vendor.Name, e.GetType().Name);
            await WriteVendorErrorAsync(context.Response, vendor, 503, "storage_unavailable",
                "Keybrake cannot reach its storage, so this call was not forwarded. Retry later.", auditId: null);
        }
    }

    private async Task ForwardAsync(
        HttpContext context, AuthorizedCall authorized, ProxyCall call, CostEstimate estimate,
        Dictionary<string, string> secretValues, OwnershipCheck owned, long started, CancellationToken cancellationToken)
    {
        VendorDefinition vendor = authorized.Vendor;
        DateTimeOffset now = time.GetUtcNow();
        AuditEntry intent = new()
        {
            Id = AuditEntry.NewId(now),
            Timestamp = now,
            Tenant = authorized.Key.Tenant,
            Label = authorized.Key.Label,
            KeyId = authorized.Key.Id,
            Vendor = vendor.Name,
            Method = call.Method,
            Path = call.Path,
            Operation = call.Operation,
            Outcome = AuditOutcome.InDoubt,
            Reason = "intent",
            CostMicros = estimate.CostMicros,
            CostSource = CostSource.Estimated,
            Currency = estimate.Currency,
            AmountMinor = estimate.AmountMinor,
            IdempotencyKey = call.IdempotencyKey,
        };
        Reservation reservation = await PlanReservationAsync(authorized, call, estimate, now, cancellationToken);
        BeginResult begun = await TryBeginAsync(intent, reservation, cancellationToken);
        switch (begun.Status)
        {
            case BeginStatus.CapExceeded:
                CapCounter cap = begun.Exceeded!;
                throw new ProxyDeniedException(429, "cap_exceeded",
                    $"Spending cap reached: {cap.Description} is {Usd.Format(cap.LimitMicros)} USD, spent {Usd.Format(begun.UsedMicros)}, " +
                    $"remaining {Usd.Format(Math.Max(0, cap.LimitMicros - begun.UsedMicros))}, and this call needs {Usd.Format(estimate.CostMicros)}.",
                    authorized.Key, call.Operation);
            case BeginStatus.LoopDetected:
                LogLoopDetected(logger, authorized.Key.Id, call.Operation);
                await RecordLoopAlertAsync(authorized, call, reservation.Loop!, now, cancellationToken);
                throw new ProxyDeniedException(429, "loop_detected",
                    $"Loop detected: this key sent the same {call.Operation} request more than {reservation.Loop!.MaxCalls} times within {reservation.Loop.Window.TotalSeconds:0} s.",
                    authorized.Key, call.Operation);
            case BeginStatus.Replay:
                reservation = Reservation.None;
                intent = intent with { Reason = "idempotent_replay", CostMicros = 0, Replay = true };
                break;
            default:
                await AlertOnThresholdsAsync(begun, reservation.AmountMicros, now, cancellationToken);
                break;
        }

        UpstreamAuthorization upstreamAuth = vendor.Authorize(secretValues, call.Segments);
        VendorEndpointOptions endpoint = endpoints.Get(vendor.Name);
        ReadOnlyMemory<byte> body = vendor.TagForLookup(call, CallReference.For(authorized.Key.Id, call.IdempotencyKey, intent.Id));
        using HttpRequestMessage upstream = BuildUpstreamRequest(context.Request, vendor, call, body, upstreamAuth, endpoint);
        owned.ApplyHeaders(upstream);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(endpoint.TimeoutSeconds));
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);

        long upstreamStarted = Stopwatch.GetTimestamp();
        HttpResponseMessage response;
        try
        {
            response = await httpClients.CreateClient(HttpClientName(vendor.Name))
                .SendAsync(upstream, HttpCompletionOption.ResponseHeadersRead, linked.Token);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
        {
            await FailUpstreamAsync(context, intent, reservation, call, estimate, e, timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested, started);
            return;
        }

        using (response)
        {
            SecretScrubber scrubber = SecretScrubber.For(vendor, secretValues, upstreamAuth.AuthorizationHeader);
            await CompleteAsync(context, intent, reservation, vendor, call, estimate, owned, response, scrubber, started, upstreamStarted, timeout, linked.Token, cancellationToken);
        }
    }

    private async Task CompleteAsync(
        HttpContext context, AuditEntry intent, Reservation reservation, VendorDefinition vendor, ProxyCall call, CostEstimate estimate,
        OwnershipCheck owned, HttpResponseMessage response, SecretScrubber scrubber, long started, long upstreamStarted, CancellationTokenSource timeout,
        CancellationToken upstreamToken, CancellationToken cancellationToken)
    {
        int status = (int)response.StatusCode;
        if (status == 401)
        {
            // The vendor refused our secret: it may have been rotated. Read it afresh next time.
            foreach (string name in vendor.SecretNames)
            {
                secrets.Invalidate(name, intent.Tenant);
            }
        }

        Stream upstreamBody;
        byte[]? buffer = null;
        int buffered = 0;
        bool bufferedWhole = false;
        try
        {
            upstreamBody = await response.Content.ReadAsStreamAsync(upstreamToken);
            if (status is >= 200 and < 300 && (vendor.CostNeedsResponseBody(call) || owned.NeedsResponseBody))
            {
                int limit = Math.Max(MaxParsedResponseBytes, owned.ResponseReadLimit);
                buffer = ArrayPool<byte>.Shared.Rent(limit + 1);
                (buffered, bufferedWhole) = await FillAsync(upstreamBody, buffer, limit, upstreamToken);
            }
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
        {
            ReturnBuffer(buffer);
            await FailUpstreamAsync(context, intent, reservation, call, estimate, e, timedOut: timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested, started);
            return;
        }

        try
        {
            long upstreamEnded = Stopwatch.GetTimestamp();
            long upstreamMs = (long)Stopwatch.GetElapsedTime(upstreamStarted, upstreamEnded).TotalMilliseconds;
            (CallCost cost, string outcome, string? reason) = Price(vendor, call, estimate, status, buffer.AsSpan(0, bufferedWhole ? buffered : 0));
            // A retry the vendor answered from its first call moves nothing, whether the proxy knew it as one (its own
            // marker) or only the vendor did (its replay header: a retry after the marker's day, or after a refusal).
            bool replay = intent.Replay || (vendor.ReplayedHeader is string replayedHeader && response.Headers.TryGetValues(replayedHeader, out IEnumerable<string>? replayed) &&
                                            replayed.Any(v => string.Equals(v, "true", StringComparison.OrdinalIgnoreCase)));
            if (replay)
            {
                cost = cost with { CostMicros = 0, FeeMicros = null };
                reason = "idempotent_replay";
            }

            AuditEntry completed = intent with
            {
                Status = status,
                Outcome = outcome,
                Reason = reason,
                CostMicros = cost.CostMicros,
                CostSource = cost.Source,
                FeeMicros = cost.FeeMicros,
                Currency = cost.Currency ?? intent.Currency,
                AmountMinor = cost.AmountMinor ?? intent.AmountMinor,
                VendorObjectId = cost.VendorObjectId,
                VendorRequestId = response.Headers.TryGetValues(vendor.RequestIdHeader, out IEnumerable<string>? ids) ? ids.FirstOrDefault() : null,
                UpstreamMs = upstreamMs,
                LatencyMs = ElapsedMs(started),
                Replay = replay,
            };
            long held = replay ? 0 : outcome == AuditOutcome.InDoubt ? reservation.AmountMicros : Math.Max(0, cost.CostMicros);
            if (held > reservation.AmountMicros)
            {
                // The vendor moved more than was reserved: it counts in full, and the row says by how much it passed the bound.
                completed = completed with { OvershootMicros = held - reservation.AmountMicros };
                LogOvershoot(logger, vendor.Name, call.Operation, held - reservation.AmountMicros);
            }

            await TryRecordOutcomeAsync(completed, reservation, held, releaseIdempotencyKey: status is >= 400 and < 500);

            // Step 5, on the answer: record what a create made; cut a list to the tenant's objects.
            ResponseRewrite rewrite = status is >= 200 and < 300
                ? await owned.OnSuccessAsync(buffer is null ? ReadOnlyMemory<byte>.Empty : buffer.AsMemory(0, buffered), bufferedWhole)
                : ResponseRewrite.Keep;
            if (rewrite.Refused)
            {
                await WriteVendorErrorAsync(context.Response, vendor, 403, "foreign_object",
                    $"The {vendor.Name} answer to {call.Operation} could not be filtered to this tenant's objects, so it is withheld.", intent.Id);
                return;
            }

            HttpResponse downstream = context.Response;
            downstream.StatusCode = status;
            ForwardedHeaders.CopyToResponse(response, downstream, scrubber);
            downstream.Headers["X-Keybrake-Audit-Id"] = intent.Id;
            downstream.Headers["X-Keybrake-Cost-Usd"] = Usd.Format(cost.CostMicros);
            downstream.Headers["X-Keybrake-Overhead-Ms"] = OverheadMs(started, upstreamStarted, upstreamEnded);
            if (rewrite.Body is byte[] filtered)
            {
                downstream.ContentLength = filtered.Length;
                await StreamBodyAsync(context, Stream.Null, filtered, filtered.Length, bufferedWhole: true, scrubber, cancellationToken);
            }
            else
            {
                await StreamBodyAsync(context, upstreamBody, buffer, buffered, bufferedWhole, scrubber, cancellationToken);
            }

            if (scrubber.Count > 0)
            {
                LogScrubbed(logger, vendor.Name, call.Operation, scrubber.Count);
            }
        }
        finally
        {
            ReturnBuffer(buffer);
        }
    }

    /// <summary>The cost and outcome of a call that got an answer.</summary>
    private (CallCost Cost, string Outcome, string? Reason) Price(VendorDefinition vendor, ProxyCall call, CostEstimate estimate, int status, ReadOnlySpan<byte> body)
    {
        if (status is >= 200 and < 300)
        {
            try
            {
                return (vendor.Settle(call, estimate, body), AuditOutcome.Forwarded, null);
            }
            catch (Exception e) when (e is System.Text.Json.JsonException or KeybrakeException or InvalidOperationException)
            {
                LogUnparsableCost(logger, vendor.Name, call.Operation, e.GetType().Name);
                return (new CallCost(estimate.CostMicros, CostSource.Estimated, Currency: estimate.Currency, AmountMinor: estimate.AmountMinor),
                    AuditOutcome.Forwarded, "cost_unparsable");
            }
        }

        if (status >= 500 && estimate.CostMicros > 0)
        {
            // A vendor error on a money-moving call may still have moved money: hold it until reconciled.
            return (new CallCost(estimate.CostMicros, CostSource.Estimated, Currency: estimate.Currency, AmountMinor: estimate.AmountMinor),
                AuditOutcome.InDoubt, "vendor_error");
        }

        // A 4xx is a definite refusal by the vendor: nothing moved.
        return (CallCost.Nothing, AuditOutcome.Forwarded, status >= 400 ? "vendor_refused" : null);
    }

    private async Task FailUpstreamAsync(
        HttpContext context, AuditEntry intent, Reservation reservation, ProxyCall call, CostEstimate estimate, Exception error, bool timedOut, long started)
    {
        bool clientGone = context.RequestAborted.IsCancellationRequested;
        bool neverSent = error is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError };
        (int status, string code, string message) = timedOut
            ? (504, "upstream_timeout", "The vendor did not answer in time. The call may have been processed; Keybrake holds its cost until reconciled.")
            : neverSent
                ? (502, "upstream_unreachable", "Keybrake could not connect to the vendor; nothing was sent.")
                : (502, "upstream_failed", "The connection to the vendor failed after the request was sent; the call may have been processed.");
        string outcome = neverSent || call.IsRead ? AuditOutcome.Error : AuditOutcome.InDoubt;
        LogUpstreamFailed(logger, call.Vendor, call.Operation, code, clientGone, error.GetType().Name);

        AuditEntry failed = intent with
        {
            Status = status,
            Outcome = outcome,
            Reason = clientGone ? "client_aborted" : code,
            CostMicros = outcome == AuditOutcome.InDoubt && !intent.Replay ? estimate.CostMicros : 0,
            CostSource = CostSource.Estimated,
            LatencyMs = ElapsedMs(started),
        };
        await TryRecordOutcomeAsync(failed, reservation, heldMicros: outcome == AuditOutcome.InDoubt ? reservation.AmountMicros : 0, releaseIdempotencyKey: neverSent);
        if (!clientGone && !context.Response.HasStarted)
        {
            await WriteVendorErrorAsync(context.Response, vendors.Find(call.Vendor)!, status, code, message, intent.Id);
        }
    }

    private async Task DenyAsync(HttpContext context, VendorDefinition vendor, string method, ProxyDeniedException denial, CancellationToken cancellationToken)
    {
        string? auditId = null;
        if (denial.Key is not null)
        {
            DateTimeOffset now = time.GetUtcNow();
            AuditEntry row = new()
            {
                Id = AuditEntry.NewId(now),
                Timestamp = now,
                Tenant = denial.Key.Tenant,
                Label = denial.Key.Label,
                KeyId = denial.Key.Id,
                Vendor = vendor.Name,
                Method = method,
                Path = SafePath(context, vendor.Name),
                Operation = denial.Operation,
                Status = denial.Status,
                Outcome = denial.Status >= 500 ? AuditOutcome.Error : AuditOutcome.Denied,
                Reason = denial.Code,
            };
            try
            {
                await audit.RecordDenialAsync(row, cancellationToken);
                auditId = row.Id;
            }
            catch (Exception e) when (IsStorageFailure(e, CancellationToken.None))
            {
                // The call is refused either way; losing the denial's row is logged, not fatal.
                LogAuditWriteFailed(logger, "denial", e.GetType().Name);
            }
        }

        LogDenied(logger, vendor.Name, method, denial.Status, denial.Code);
        await WriteVendorErrorAsync(context.Response, vendor, denial.Status, denial.Code, denial.Message, auditId);
    }

    private static CostEstimate EstimateOrDeny(AuthorizedCall authorized, ProxyCall call)
    {
        try
        {
            return authorized.Vendor.Estimate(call);
        }
        catch (KeybrakeException e)
        {
            throw new ProxyDeniedException(400, e.Code, e.Message, authorized.Key, call.Operation);
        }
    }

    /// <summary>
    /// Turns a bound the request alone does not give into a number: a vendor look-up (an invoice's remaining
    /// amount, read with the real secret) or the key's whole remaining allowance, the least any of its
    /// counters still allows. At least one micro-dollar, so a key at its cap refuses the call.
    /// </summary>
    private async Task<CostEstimate> BoundAsync(AuthorizedCall authorized, ProxyCall call, CostEstimate estimate, CancellationToken cancellationToken)
    {
        if (estimate.LookupPath is not null)
        {
            try
            {
                return await lookups.BoundAsync(authorized.Key.Tenant, call, estimate, cancellationToken);
            }
            catch (KeybrakeException e)
            {
                throw new ProxyDeniedException(e.Kind == ErrorKind.Validation ? 400 : 502, e.Code, e.Message, authorized.Key, call.Operation);
            }
            catch (Exception e) when (e is HttpRequestException or System.Text.Json.JsonException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                throw new ProxyDeniedException(502, "bound_unavailable",
                    $"Keybrake could not read from {call.Vendor} what this call may cost, so it was not forwarded. Retry later.", authorized.Key, call.Operation);
            }
        }

        if (!estimate.WholeAllowance)
        {
            return estimate;
        }

        long remaining = long.MaxValue;
        foreach (CapCounter counter in await caps.CountersAsync(authorized.Key, time.GetUtcNow(), cancellationToken))
        {
            remaining = Math.Min(remaining, counter.LimitMicros - await audit.UsedAsync(counter, cancellationToken));
        }

        return estimate with { CostMicros = Math.Max(1, remaining) };
    }

    private async Task<Dictionary<string, string>> ReadSecretsAsync(AuthorizedCall authorized, CancellationToken cancellationToken)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string name in authorized.Vendor.SecretNames)
        {
            string? value;
            try
            {
                value = await secrets.GetAsync(name, authorized.Key.Tenant, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogSecretUnavailable(logger, name, e.GetType().Name);
                value = null;
            }

            values[name] = value ?? throw new ProxyDeniedException(503, "vendor_credentials_unavailable",
                $"Keybrake has no usable {authorized.Vendor.Name} credentials for this tenant; nothing was forwarded.", authorized.Key, authorized.Operation);
        }

        return values;
    }

    private async Task<BeginResult> TryBeginAsync(AuditEntry intent, Reservation reservation, CancellationToken cancellationToken)
    {
        try
        {
            return await audit.BeginAsync(intent, reservation, cancellationToken);
        }
        catch (Exception e) when (IsStorageFailure(e, cancellationToken))
        {
            LogAuditWriteFailed(logger, "intent", e.GetType().Name);
            throw new ProxyDeniedException(503, "audit_unavailable", "Keybrake could not record or reserve this call, so it was not forwarded. Retry later.");
        }
    }

    /// <summary>One alert per key, repeated call and loop window, however many calls the loop keeps sending.</summary>
    private async Task RecordLoopAlertAsync(AuthorizedCall authorized, ProxyCall call, LoopGuard loop, DateTimeOffset now, CancellationToken cancellationToken)
    {
        long window = now.ToUnixTimeSeconds() / (long)loop.Window.TotalSeconds;
        string fingerprint = loop.Row[(loop.Row.LastIndexOf('|') + 1)..];
        var alert = new Alert(
            $"loop|{authorized.Key.Id}|{fingerprint}|{window}",
            authorized.Key.Tenant,
            Alert.LoopDetected,
            authorized.Key.Label,
            $"Key {authorized.Key.Id} ({authorized.Key.Label}) sent the same {call.Operation} more than {loop.MaxCalls} times within {loop.Window.TotalSeconds:0} s; further copies are refused.",
            now);
        try
        {
            await alerts.RecordAsync(alert, cancellationToken);
        }
        catch (Exception e) when (IsStorageFailure(e, cancellationToken))
        {
            // The loop is refused either way; a lost alert record is logged, not fatal.
            LogAuditWriteFailed(logger, "alert", e.GetType().Name);
        }
    }

    /// <summary>Budget thresholds this reservation crossed fire now, not at the next timer sweep.</summary>
    private async Task AlertOnThresholdsAsync(BeginResult begun, long amount, DateTimeOffset now, CancellationToken cancellationToken)
    {
        try
        {
            await budgetAlerts.OnReservedAsync(begun.Reserved, amount, now, cancellationToken);
        }
        catch (Exception e) when (IsStorageFailure(e, cancellationToken))
        {
            // The reservation stands and the call goes on; the timer's sweep records the alert later.
            LogAuditWriteFailed(logger, "alert", e.GetType().Name);
        }
    }

    private static bool IsStorageFailure(Exception e, CancellationToken cancellationToken) =>
        Infrastructure.Storage.StorageFailures.IsStorageFailure(e, cancellationToken);

    private async Task<Reservation> PlanReservationAsync(AuthorizedCall authorized, ProxyCall call, CostEstimate estimate, DateTimeOffset now, CancellationToken cancellationToken)
    {
        string partition = AuditEntry.PartitionFor(authorized.Key.Tenant, now);
        string? idempotencyRow = string.IsNullOrEmpty(call.IdempotencyKey) ? null : Reservation.IdempotencyRowFor(authorized.Key.Id, call.IdempotencyKey);
        ProxyOptions options = proxyOptions.Value;
        LoopGuard? loop = call.IsRead
            ? null
            : new LoopGuard(
                partition,
                "~loop|" + authorized.Key.Id + "|" + CallFingerprint(call),
                authorized.Key.Loop?.MaxCalls ?? options.LoopMaxCalls,
                TimeSpan.FromSeconds(authorized.Key.Loop?.WindowSeconds ?? options.LoopWindowSeconds));
        // Counters for every write, not only those with a reservation: settlement moves them by the real cost.
        IReadOnlyList<CapCounter> counters = call.IsRead ? [] : await caps.CountersAsync(authorized.Key, now, cancellationToken);
        return new Reservation(Math.Max(0, estimate.CostMicros), counters, idempotencyRow, loop);
    }

    /// <summary>Method, path and canonical body: what makes two calls "the same" to the loop breaker.</summary>
    private static string CallFingerprint(ProxyCall call)
    {
        string body = call.ContentType?.StartsWith("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase) == true
            ? string.Join('&', FormBody.Parse(call.Body.Span).OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + "=" + p.Value))
            : Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(call.Body.Span));
        return RandomTokens.Sha256Hex(call.Method + " " + call.Path + call.Query + "\n" + body)[..40];
    }

    private async Task TryRecordOutcomeAsync(AuditEntry outcome, Reservation reservation, long heldMicros, bool releaseIdempotencyKey)
    {
        try
        {
            // The vendor has answered; record it even if the agent has gone away.
            await audit.CompleteAsync(outcome, reservation, heldMicros, releaseIdempotencyKey, CancellationToken.None);
        }
        catch (Exception e) when (IsStorageFailure(e, CancellationToken.None))
        {
            // The intent row stays in_doubt with its reservation; the reconciler resolves it.
            LogAuditWriteFailed(logger, "outcome", e.GetType().Name);
        }
    }

    private static HttpRequestMessage BuildUpstreamRequest(
        HttpRequest request, VendorDefinition vendor, ProxyCall call, ReadOnlyMemory<byte> body, UpstreamAuthorization auth, VendorEndpointOptions endpoint)
    {
        Uri target = UpstreamUri(endpoint.BaseUrl ?? vendor.DefaultBaseUrl, auth.Segments, request.QueryString.Value);
        var upstream = new HttpRequestMessage(new HttpMethod(call.Method), target);
        if (!body.IsEmpty || call.Method is "POST" or "PUT" or "PATCH")
        {
            upstream.Content = new ReadOnlyMemoryContent(body);
        }

        ForwardedHeaders.CopyToUpstream(request.Headers, upstream, vendor.ForwardedRequestHeaders);
        upstream.Headers.TryAddWithoutValidation("Authorization", auth.AuthorizationHeader);
        return upstream;
    }

    /// <summary>
    /// The configured base URL plus the normalised path and the untouched query. Built by concatenation,
    /// never by resolving a relative reference, and checked: nothing in a request can pick another host.
    /// </summary>
    public static Uri UpstreamUri(Uri baseUrl, IReadOnlyList<string> segments, string? query)
    {
        string basePath = baseUrl.AbsolutePath.TrimEnd('/');
        var target = new Uri(baseUrl.GetLeftPart(UriPartial.Authority) + basePath + PathNormalizer.Encode(segments) + query, UriKind.Absolute);
        if (target.Scheme != baseUrl.Scheme || target.IdnHost != baseUrl.IdnHost || target.Port != baseUrl.Port || !string.IsNullOrEmpty(target.UserInfo))
        {
            throw new InvalidOperationException("The upstream URL left the configured vendor host.");
        }

        return target;
    }

    /// <summary>The path after <c>/proxy/{vendor}</c> exactly as the client sent it, before any decoding.</summary>
    private static string RawVendorPath(HttpContext context, string vendorName)
    {
        // Only origin-form targets: for any other form the server has already decoded and cleaned the path,
        // which would hide exactly what the checks below must see.
        string raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget is { Length: > 0 } target
            ? target
            : context.Request.PathBase.ToUriComponent() + context.Request.Path.ToUriComponent();
        if (!raw.StartsWith('/'))
        {
            throw new ProxyDeniedException(400, "invalid_path", "Send the request path in origin form (/proxy/{vendor}/…).");
        }

        int query = raw.IndexOf('?', StringComparison.Ordinal);
        string path = query < 0 ? raw : raw[..query];
        string prefix = "/proxy/" + vendorName;
        return path.StartsWith(prefix + "/", StringComparison.OrdinalIgnoreCase) ? path[prefix.Length..]
            : path.Equals(prefix, StringComparison.OrdinalIgnoreCase) ? string.Empty
            : throw new ProxyDeniedException(400, "invalid_path", "The path must be /proxy/{vendor}/{vendor path}, without encoding in the prefix.");
    }

    /// <summary>A path fit for an audit row even when it was refused: normalised if possible, else cut and marked.</summary>
    private static string SafePath(HttpContext context, string vendorName)
    {
        try
        {
            return PathNormalizer.Encode(PathNormalizer.Normalize(RawVendorPath(context, vendorName)));
        }
        catch (Exception e) when (e is KeybrakeException or ProxyDeniedException)
        {
            return "(invalid path)";
        }
    }

    private static async Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength > MaxRequestBodyBytes)
        {
            throw new ProxyDeniedException(413, "request_too_large", $"Request bodies through Keybrake are limited to {MaxRequestBodyBytes / 1024} KB.");
        }

        using var body = new MemoryStream();
        byte[] chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int read;
            while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                body.Write(chunk, 0, read);
                if (body.Length > MaxRequestBodyBytes)
                {
                    throw new ProxyDeniedException(413, "request_too_large", $"Request bodies through Keybrake are limited to {MaxRequestBodyBytes / 1024} KB.");
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        return body.GetBuffer().AsMemory(0, (int)body.Length);
    }

    private static async Task<(int Count, bool Whole)> FillAsync(Stream source, byte[] buffer, int limit, CancellationToken cancellationToken)
    {
        int total = 0;
        while (total <= limit)
        {
            int read = await source.ReadAsync(buffer.AsMemory(total, limit + 1 - total), cancellationToken);
            if (read == 0)
            {
                return (total, true);
            }

            total += read;
        }

        return (total, false);
    }

    private static async Task StreamBodyAsync(
        HttpContext context, Stream upstreamBody, byte[]? buffer, int buffered, bool bufferedWhole, SecretScrubber scrubber, CancellationToken cancellationToken)
    {
        try
        {
            ReadOnlyMemory<byte> head = buffer is null ? ReadOnlyMemory<byte>.Empty : buffer.AsMemory(0, buffered);
            await scrubber.CopyAsync(head, bufferedWhole ? null : upstreamBody, context.Response.Body, cancellationToken);
        }
        catch (Exception e) when (e is IOException or HttpRequestException or OperationCanceledException)
        {
            // The status line is gone already: cut the connection rather than end a truncated body that looks whole.
            context.Abort();
        }
    }

    private static Task WriteVendorErrorAsync(HttpResponse response, VendorDefinition vendor, int status, string code, string message, string? auditId)
    {
        VendorErrorBody body = vendor.Error(status, code, message);
        if (auditId is not null)
        {
            response.Headers["X-Keybrake-Audit-Id"] = auditId;
        }

        response.Headers["X-Keybrake-Cost-Usd"] = Usd.Format(0);
        return WriteAsync(response, status, body.ContentType, body.Body);
    }

    private static async Task WriteAsync(HttpResponse response, int status, string contentType, string body)
    {
        response.StatusCode = status;
        response.ContentType = contentType;
        await response.WriteAsync(body);
    }

    private static void ReturnBuffer(byte[]? buffer)
    {
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static long ElapsedMs(long since) => (long)Stopwatch.GetElapsedTime(since).TotalMilliseconds;

    /// <summary>Time in the proxy minus time waiting for the vendor, to the hundredth: the in-memory path is well under 1 ms.</summary>
    private static string OverheadMs(long started, long upstreamStarted, long upstreamEnded) =>
        (Stopwatch.GetElapsedTime(started) - Stopwatch.GetElapsedTime(upstreamStarted, upstreamEnded)).TotalMilliseconds
            .ToString("0.00", System.Globalization.CultureInfo.InvariantCulture);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Proxy denied {Vendor} {Method}: {Status} {Code}")]
    private static partial void LogDenied(ILogger logger, string vendor, string method, int status, string code);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Proxy call to {Vendor} {Operation} failed upstream: {Code} (client gone: {ClientGone}, {ErrorType})")]
    private static partial void LogUpstreamFailed(ILogger logger, string vendor, string operation, string code, bool clientGone, string errorType);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Error, Message = "Audit {Stage} write failed ({ErrorType})")]
    private static partial void LogAuditWriteFailed(ILogger logger, string stage, string errorType);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Error, Message = "Secret {SecretName} could not be read ({ErrorType})")]
    private static partial void LogSecretUnavailable(ILogger logger, string secretName, string errorType);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Error, Message = "Proxy call to {Vendor} refused: storage unavailable ({ErrorType})")]
    private static partial void LogStorageUnavailable(ILogger logger, string vendor, string errorType);

    [LoggerMessage(EventId = 2007, Level = LogLevel.Warning, Message = "Loop breaker tripped for key {KeyId} on {Operation}")]
    private static partial void LogLoopDetected(ILogger logger, string keyId, string operation);

    [LoggerMessage(EventId = 2008, Level = LogLevel.Warning, Message = "{Vendor} {Operation} cost {OvershootMicros} micro-dollars more than it reserved")]
    private static partial void LogOvershoot(ILogger logger, string vendor, string operation, long overshootMicros);

    [LoggerMessage(EventId = 2009, Level = LogLevel.Warning, Message = "Scrubbed {Count} occurrence(s) of a {Vendor} credential from the answer to {Operation}")]
    private static partial void LogScrubbed(ILogger logger, string vendor, string operation, int count);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Warning, Message = "Cost of {Vendor} {Operation} could not be parsed ({ErrorType}); the estimate stands")]
    private static partial void LogUnparsableCost(ILogger logger, string vendor, string operation, string errorType);
}
