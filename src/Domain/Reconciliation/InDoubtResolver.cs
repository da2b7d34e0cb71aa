using Keybrake.Domain.Audit;
using Keybrake.Domain.Common;
using Keybrake.Domain.Labels;
using Keybrake.Domain.Operators;
using Keybrake.Domain.Proxy;

namespace Keybrake.Domain.Reconciliation;

/// <summary>
/// Resolves a call left <c>in_doubt</c> once an operator has checked with the vendor: "not charged"
/// releases its reservation, "charged" settles it at the given (or estimated) cost.
/// </summary>
public sealed class InDoubtResolver(IReservationLedger audit, RollupService rollups)
{
    public async Task<AuditEntry> ResolveAsync(
        OperatorPrincipal caller, string tenant, string auditId, bool charged, decimal? costUsd, CancellationToken cancellationToken)
    {
        if (!Label.IsValidTenant(tenant))
        {
            throw KeybrakeException.Invalid("tenant", "is not a valid tenant.");
        }

        caller.EnsureTenant(tenant);
        AuditEntry row = await audit.GetAsync(tenant, auditId, cancellationToken) ?? throw KeybrakeException.NotFound($"Audit entry '{auditId}'");
        if (row.Outcome != AuditOutcome.InDoubt)
        {
            throw new KeybrakeException(ErrorKind.Conflict, "not_in_doubt", $"Audit entry '{auditId}' is {row.Outcome}, not in_doubt.");
        }

        // A refund costs minus what it gave back (docs/design.md §4) and reserved nothing: its resolution takes the refunded
        // amount as a negative cost_usd, and refuses a positive one (a charge) or none (the proxy never knew the amount).
        bool refund = IsRefund(row);
        long? costMicros = null;
        if (charged && costUsd is not null)
        {
            costMicros = !Usd.TryToMicros(costUsd.Value, out long micros) ? throw KeybrakeException.Invalid("cost_usd", "has at most 6 decimals.")
                : refund && micros > 0 ? throw KeybrakeException.Invalid("cost_usd", "is minus the refunded amount for a refund (e.g. -5.00 for a 5.00 refund).")
                : !refund && micros < 0 ? throw KeybrakeException.Invalid("cost_usd", "must be 0 or more with at most 6 decimals.")
                : micros;
        }
        else if (charged && refund)
        {
            throw KeybrakeException.Invalid("cost_usd", "is required to resolve a refund as done: minus the refunded amount (e.g. -5.00).");
        }
        else if (costUsd is not null)
        {
            throw KeybrakeException.Invalid("cost_usd", "only goes with \"charged\": true.");
        }

        // A replay moved nothing: the vendor answered it from the first call, which carries the charge (and is resolved on its own).
        bool replay = await audit.ReplaysEarlierCallAsync(row, cancellationToken);
        if (replay && charged)
        {
            throw KeybrakeException.Invalid("charged", "must be false for an idempotent replay: the vendor answered it from the first call with the same Idempotency-Key, which carries the charge.");
        }

        // Decided on the row as storage holds it at the ETag written against: a double-click, or the reconciler
        // resolving it meanwhile, finds it no longer in doubt and is refused, so the counters move once.
        AuditEntry resolved = await audit.TransitionAsync(tenant, auditId, current =>
        {
            if (current.Outcome != AuditOutcome.InDoubt)
            {
                return null;
            }

            long cost = charged ? costMicros ?? current.CostMicros : 0;
            return (current with
            {
                Outcome = charged ? AuditOutcome.Forwarded : AuditOutcome.Error,
                Reason = charged ? "resolved: charged" : replay ? "resolved: idempotent replay, charged on the first call" : "resolved: not charged",
                CostMicros = cost,
                CostSource = CostSource.Settled,
                Replay = replay,
            }, Math.Max(0, cost)); // refunds never free cap: caps count gross spend
        }, cancellationToken) ?? throw new KeybrakeException(ErrorKind.Conflict, "not_in_doubt", $"Audit entry '{auditId}' is no longer in_doubt.");
        await rollups.RefreshClosedDayAsync(tenant, row.Timestamp, cancellationToken);
        return resolved;
    }

    private static bool IsRefund(AuditEntry row) =>
        row.Vendor == "stripe" && row.Operation is string operation && Vendors.StripeVendor.Bound(row.Method, operation) == Vendors.StripeVendor.BoundKind.Refund;
}
