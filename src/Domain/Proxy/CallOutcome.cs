using Keybrake.Domain.Audit;
using Keybrake.Domain.Caps;
using Keybrake.Domain.Vendors;

namespace Keybrake.Domain.Proxy;

/// <summary>
/// How the reservation step let a call through: with its reservation, or as a replay of an earlier call (its
/// Idempotency-Key was seen before) that reserves and moves nothing.
/// </summary>
public sealed record Admission(AuditEntry Intent, Reservation Reservation, bool IsReplay)
{
    public const string ReplayReason = "idempotent_replay";

    public static Admission Reserved(AuditEntry intent, Reservation reservation) => new(intent, reservation, IsReplay: false);

    public static Admission Replayed(AuditEntry intent) =>
        new(intent with { Reason = ReplayReason, CostMicros = 0, Replay = true }, Reservation.None, IsReplay: true);
}

/// <summary>Why the vendor gave no answer.</summary>
public enum UpstreamFailure
{
    /// <summary>The vendor did not answer within the endpoint's timeout: it may have acted.</summary>
    TimedOut,

    /// <summary>No connection was made: nothing reached the vendor.</summary>
    NeverSent,

    /// <summary>The connection broke after the request was sent: the vendor may have acted.</summary>
    Broken,
}

/// <summary>
/// The completed audit row of a call and what settlement does with its reservation: the amount the counters keep
/// (<see cref="HeldMicros"/>) and whether the Idempotency-Key marker is released so a retry is a new call.
/// </summary>
public sealed record SettledCall(AuditEntry Row, long HeldMicros, bool ReleaseIdempotencyKey)
{
    /// <summary>How much the real cost passed the reservation; 0 when it did not.</summary>
    public long OvershootMicros => Row.OvershootMicros ?? 0;

    /// <summary>The type of the error that made the answer's cost unreadable (the estimate stood), or null.</summary>
    public string? UnparsableCost { get; init; }
}

/// <summary>
/// The pure end of a call: from the vendor's status and answer (or its failure to answer) to the cost, the audit
/// outcome and the settlement. No I/O, so every rule here is reached by unit tests without a host.
/// </summary>
public static class CallOutcome
{
    /// <summary>A call the vendor answered with <paramref name="status"/>; <paramref name="body"/> is the whole answer when the cost needs it, else empty.</summary>
    public static SettledCall Answered(
        VendorDefinition vendor, Admission admission, ProxyCall call, CostEstimate estimate, int status, ReadOnlySpan<byte> body,
        bool vendorReplayed, string? vendorRequestId, long upstreamMs, long latencyMs)
    {
        (CallCost cost, string outcome, string? reason, string? unparsable) = Price(vendor, call, estimate, status, body);

        // A retry the vendor answered from its first call moves nothing, whether the proxy knew it as one (its own
        // marker) or only the vendor did (its replay header: a retry after the marker's day, or after a refusal).
        bool replay = admission.IsReplay || vendorReplayed;
        if (replay)
        {
            cost = cost with { CostMicros = 0, FeeMicros = null };
            reason = Admission.ReplayReason;
        }

        AuditEntry intent = admission.Intent;
        AuditEntry row = intent with
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
            VendorRequestId = vendorRequestId,
            UpstreamMs = upstreamMs,
            LatencyMs = latencyMs,
            Replay = replay,
        };

        long reserved = admission.Reservation.AmountMicros;
        long held = replay ? 0 : outcome == AuditOutcome.InDoubt ? reserved : Math.Max(0, cost.CostMicros);
        if (held > reserved)
        {
            // The vendor moved more than was reserved: it counts in full, and the row says by how much it passed the bound.
            row = row with { OvershootMicros = held - reserved };
        }

        return new SettledCall(row, held, ReleaseIdempotencyKey: status is >= 400 and < 500) { UnparsableCost = unparsable };
    }

    /// <summary>What the agent is told when the vendor gave no answer.</summary>
    public static Common.KeybrakeException UpstreamError(UpstreamFailure failure) => failure switch
    {
        UpstreamFailure.TimedOut => new(Common.ErrorKind.UpstreamTimeout, "upstream_timeout",
            "The vendor did not answer in time. The call may have been processed; Keybrake holds its cost until reconciled."),
        UpstreamFailure.NeverSent => new(Common.ErrorKind.UpstreamFailed, "upstream_unreachable", "Keybrake could not connect to the vendor; nothing was sent."),
        _ => new(Common.ErrorKind.UpstreamFailed, "upstream_failed",
            "The connection to the vendor failed after the request was sent; the call may have been processed."),
    };

    /// <summary>
    /// A call the vendor did not answer, refused to the agent with <paramref name="status"/> (<see cref="UpstreamError"/>'s kind
    /// as the HTTP layer maps it): a read or a call never sent is an error, any other may have moved money and is held.
    /// </summary>
    public static SettledCall Failed(Admission admission, ProxyCall call, CostEstimate estimate, UpstreamFailure failure, int status, bool clientGone, long latencyMs)
    {
        string code = UpstreamError(failure).Code;
        bool neverSent = failure == UpstreamFailure.NeverSent;
        string outcome = neverSent || call.IsRead ? AuditOutcome.Error : AuditOutcome.InDoubt;
        AuditEntry row = admission.Intent with
        {
            Status = status,
            Outcome = outcome,
            Reason = clientGone ? "client_aborted" : code,
            CostMicros = outcome == AuditOutcome.InDoubt && !admission.IsReplay ? estimate.CostMicros : 0,
            CostSource = CostSource.Estimated,
            LatencyMs = latencyMs,
        };
        long held = outcome == AuditOutcome.InDoubt ? admission.Reservation.AmountMicros : 0;
        return new SettledCall(row, held, ReleaseIdempotencyKey: neverSent);
    }

    /// <summary>The cost and outcome of a call that got an answer; a cost the answer does not let us read keeps the estimate.</summary>
    public static (CallCost Cost, string Outcome, string? Reason, string? UnparsableCost) Price(
        VendorDefinition vendor, ProxyCall call, CostEstimate estimate, int status, ReadOnlySpan<byte> body)
    {
        if (status is >= 200 and < 300)
        {
            try
            {
                return (vendor.Settle(call, estimate, body), AuditOutcome.Forwarded, null, null);
            }
            catch (Exception e) when (e is System.Text.Json.JsonException or Common.KeybrakeException or InvalidOperationException)
            {
                return (Estimated(estimate), AuditOutcome.Forwarded, "cost_unparsable", e.GetType().Name);
            }
        }

        if (status >= 500 && estimate.CostMicros > 0)
        {
            // A vendor error on a money-moving call may still have moved money: hold it until reconciled.
            return (Estimated(estimate), AuditOutcome.InDoubt, "vendor_error", null);
        }

        // A 4xx is a definite refusal by the vendor: nothing moved.
        return (CallCost.Nothing, AuditOutcome.Forwarded, status >= 400 ? "vendor_refused" : null, null);
    }

    private static CallCost Estimated(CostEstimate estimate) =>
        new(estimate.CostMicros, CostSource.Estimated, Currency: estimate.Currency, AmountMinor: estimate.AmountMinor);
}
