using Keybrake.Domain.Alerts;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Caps;
using Keybrake.Domain.Common;
using Keybrake.Domain.Proxy;
using Keybrake.Domain.Reconciliation;
using Keybrake.Infrastructure.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Keybrake.Functions.Proxy;

/// <summary>
/// The proxy's side of the audit log and the caps: how much a call reserves, the intent and reservation written
/// before forwarding (or the refusal at a cap or a loop), the outcome and settlement afterwards, and denial rows.
/// </summary>
public sealed partial class CallAccounting(
    IReservationLedger audit,
    CapPlanner caps,
    IVendorLookup lookups,
    IAlertStore alerts,
    BudgetAlerts budgetAlerts,
    IOptions<ProxyOptions> proxyOptions,
    TimeProvider time,
    ILogger<CallAccounting> logger)
{
    /// <summary>
    /// Turns a bound the request alone does not give into a number: a vendor look-up (an invoice's remaining
    /// amount, read with the real secret) or the key's whole remaining allowance, the least any of its
    /// counters still allows. At least one micro-dollar, so a key at its cap refuses the call.
    /// </summary>
    public async Task<CostEstimate> BoundAsync(AuthorizedCall authorized, ProxyCall call, CostEstimate estimate, CancellationToken cancellationToken)
    {
        if (estimate.LookupPath is not null)
        {
            try
            {
                return await lookups.BoundAsync(authorized.Key.Tenant, call, estimate, cancellationToken);
            }
            catch (KeybrakeException e)
            {
                // Whatever stopped the look-up (credentials included) is the vendor side failing this call, unless the call itself was wrong.
                throw new KeybrakeException(e.Kind == ErrorKind.Validation ? ErrorKind.Validation : ErrorKind.UpstreamFailed, e.Code, e.Message)
                {
                    Key = authorized.Key,
                    Operation = call.Operation,
                };
            }
            catch (Exception e) when (e is HttpRequestException or System.Text.Json.JsonException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                throw new KeybrakeException(ErrorKind.UpstreamFailed, "bound_unavailable",
                    $"Keybrake could not read from {call.Vendor} what this call may cost, so it was not forwarded. Retry later.") { Key = authorized.Key, Operation = call.Operation };
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

    /// <summary>
    /// Writes the intent row with the call's reservation (counters, Idempotency-Key marker, loop window) in one go:
    /// a call is forwarded only once this returns. Refuses at a cap or a loop; a replay reserves nothing.
    /// </summary>
    public async Task<Admission> AdmitAsync(AuthorizedCall authorized, ProxyCall call, CostEstimate estimate, CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        AuditEntry intent = Intent(authorized, call, estimate, now);
        (Reservation reservation, string? fingerprint) = await PlanAsync(authorized, call, estimate, now, cancellationToken);
        BeginResult begun;
        try
        {
            begun = await audit.BeginAsync(intent, reservation, cancellationToken);
        }
        catch (Exception e) when (StorageFailures.IsStorageFailure(e, cancellationToken))
        {
            LogAuditWriteFailed(logger, "intent", StorageFailures.Describe(e));
            throw new KeybrakeException(ErrorKind.Unavailable, "audit_unavailable", "Keybrake could not record or reserve this call, so it was not forwarded. Retry later.");
        }

        switch (begun.Status)
        {
            case BeginStatus.CapExceeded:
                CapCounter cap = begun.Exceeded!;
                throw new KeybrakeException(ErrorKind.RateLimited, "cap_exceeded",
                    $"Spending cap reached: {cap.Description} is {Usd.Format(cap.LimitMicros)} USD, spent {Usd.Format(begun.UsedMicros)}, " +
                    $"remaining {Usd.Format(Math.Max(0, cap.LimitMicros - begun.UsedMicros))}, and this call needs {Usd.Format(estimate.CostMicros)}.")
                {
                    Key = authorized.Key,
                    Operation = call.Operation,
                };
            case BeginStatus.LoopDetected:
                LoopGuard loop = reservation.Loop!;
                LogLoopDetected(logger, authorized.Key.Id, call.Operation);
                await RecordLoopAlertAsync(authorized, call, loop, fingerprint!, now, cancellationToken);
                throw new KeybrakeException(ErrorKind.RateLimited, "loop_detected",
                    $"Loop detected: this key sent the same {call.Operation} request more than {loop.MaxCalls} times within {loop.Window.TotalSeconds:0} s.")
                {
                    Key = authorized.Key,
                    Operation = call.Operation,
                };
            case BeginStatus.Replay:
                return Admission.Replayed(intent);
            default:
                await AlertOnThresholdsAsync(begun, reservation.AmountMicros, now, cancellationToken);
                return Admission.Reserved(intent, reservation);
        }
    }

    /// <summary>The vendor has answered (or failed to): record it even if the agent has gone away.</summary>
    public async Task RecordOutcomeAsync(Admission admission, SettledCall settled)
    {
        try
        {
            await audit.CompleteAsync(settled.Row, admission.Reservation, settled.HeldMicros, settled.ReleaseIdempotencyKey, CancellationToken.None);
        }
        catch (Exception e) when (StorageFailures.IsStorageFailure(e, CancellationToken.None))
        {
            // The intent row stays in_doubt with its reservation; the reconciler resolves it.
            LogAuditWriteFailed(logger, "outcome", StorageFailures.Describe(e));
        }
    }

    /// <summary>A refusal of an identified key, recorded under its tenant; the row's id, or null when it could not be written.</summary>
    public async Task<string?> RecordDenialAsync(KeybrakeException denial, int status, string vendor, string method, string path, CancellationToken cancellationToken)
    {
        if (denial.Key is null)
        {
            return null;
        }

        DateTimeOffset now = time.GetUtcNow();
        AuditEntry row = new()
        {
            Id = AuditEntry.NewId(now),
            Timestamp = now,
            Tenant = denial.Key.Tenant,
            Label = denial.Key.Label,
            KeyId = denial.Key.Id,
            Vendor = vendor,
            Method = method,
            Path = path,
            Operation = denial.Operation,
            Status = status,
            Outcome = status >= 500 ? AuditOutcome.Error : AuditOutcome.Denied,
            Reason = denial.Code,
        };
        try
        {
            await audit.RecordDenialAsync(row, cancellationToken);
            return row.Id;
        }
        catch (Exception e) when (StorageFailures.IsStorageFailure(e, CancellationToken.None))
        {
            // The call is refused either way; losing the denial's row is logged, not fatal.
            LogAuditWriteFailed(logger, "denial", StorageFailures.Describe(e));
            return null;
        }
    }

    private static AuditEntry Intent(AuthorizedCall authorized, ProxyCall call, CostEstimate estimate, DateTimeOffset now) => new()
    {
        Id = AuditEntry.NewId(now),
        Timestamp = now,
        Tenant = authorized.Key.Tenant,
        Label = authorized.Key.Label,
        KeyId = authorized.Key.Id,
        Vendor = authorized.Vendor.Name,
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

    private async Task<(Reservation Reservation, string? Fingerprint)> PlanAsync(
        AuthorizedCall authorized, ProxyCall call, CostEstimate estimate, DateTimeOffset now, CancellationToken cancellationToken)
    {
        string? idempotencyRow = string.IsNullOrEmpty(call.IdempotencyKey) ? null : AuditRowKeys.Idempotency(authorized.Key.Id, call.IdempotencyKey);
        if (call.IsRead)
        {
            return (new Reservation(Math.Max(0, estimate.CostMicros), [], idempotencyRow, null), null);
        }

        ProxyOptions options = proxyOptions.Value;
        string fingerprint = LoopFingerprint.Of(call);
        var loop = new LoopGuard(
            AuditEntry.PartitionFor(authorized.Key.Tenant, now),
            AuditRowKeys.LoopWindow(authorized.Key.Id, fingerprint),
            authorized.Key.Loop?.MaxCalls ?? options.LoopMaxCalls,
            TimeSpan.FromSeconds(authorized.Key.Loop?.WindowSeconds ?? options.LoopWindowSeconds));

        // Counters for every write, not only those with a reservation: settlement moves them by the real cost.
        IReadOnlyList<CapCounter> counters = await caps.CountersAsync(authorized.Key, now, cancellationToken);
        return (new Reservation(Math.Max(0, estimate.CostMicros), counters, idempotencyRow, loop), fingerprint);
    }

    /// <summary>One alert per key, repeated call and loop window, however many calls the loop keeps sending.</summary>
    private async Task RecordLoopAlertAsync(AuthorizedCall authorized, ProxyCall call, LoopGuard loop, string fingerprint, DateTimeOffset now, CancellationToken cancellationToken)
    {
        long window = now.ToUnixTimeSeconds() / (long)loop.Window.TotalSeconds;
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
        catch (Exception e) when (StorageFailures.IsStorageFailure(e, cancellationToken))
        {
            // The loop is refused either way; a lost alert record is logged, not fatal.
            LogAuditWriteFailed(logger, "alert", StorageFailures.Describe(e));
        }
    }

    /// <summary>Budget thresholds this reservation crossed fire now, not at the next timer sweep.</summary>
    private async Task AlertOnThresholdsAsync(BeginResult begun, long amount, DateTimeOffset now, CancellationToken cancellationToken)
    {
        try
        {
            await budgetAlerts.OnReservedAsync(begun.Reserved, amount, now, cancellationToken);
        }
        catch (Exception e) when (StorageFailures.IsStorageFailure(e, cancellationToken))
        {
            // The reservation stands and the call goes on; the timer's sweep records the alert later.
            LogAuditWriteFailed(logger, "alert", StorageFailures.Describe(e));
        }
    }

    [LoggerMessage(EventId = 2003, Level = LogLevel.Error, Message = "Audit {Stage} write failed ({ErrorType})")]
    private static partial void LogAuditWriteFailed(ILogger logger, string stage, string errorType);

    [LoggerMessage(EventId = 2007, Level = LogLevel.Warning, Message = "Loop breaker tripped for key {KeyId} on {Operation}")]
    private static partial void LogLoopDetected(ILogger logger, string keyId, string operation);
}
