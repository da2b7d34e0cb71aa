using Keybrake.Domain.Activity;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Common;
using Keybrake.Domain.Proxy;

namespace Keybrake.Domain.Reconciliation;

/// <summary>Looks up what a vendor finally charged for an earlier call.</summary>
public interface IVendorLookup
{
    /// <summary>The settled cost in micro-dollars, or null while the vendor has not priced it yet.</summary>
    Task<long?> SettledCostAsync(AuditEntry row, CancellationToken cancellationToken);

    /// <summary>What an in-doubt call really cost (0: nothing happened), or null when the vendor cannot tell.</summary>
    Task<long?> InDoubtCostAsync(AuditEntry row, CancellationToken cancellationToken);

    /// <summary>
    /// The bound of a call whose estimate names a vendor object to read first (<see cref="CostEstimate.LookupPath"/>),
    /// read with the tenant's real credentials; other estimates come back as they are.
    /// </summary>
    Task<CostEstimate> BoundAsync(string tenant, ProxyCall call, CostEstimate estimate, CancellationToken cancellationToken);
}

public sealed record ReconcileReport(int Settled, int StillEstimated, int InDoubtFlagged, int Failed, int InDoubtResolved = 0, int JournalsFinished = 0);

/// <summary>
/// Timer work (every few minutes): settles estimated costs to what the vendor finally charged (Twilio's
/// price arrives up to a day later), moving the counters by the difference, and flags calls left
/// <c>in_doubt</c> (timeouts, resets, crashes between intent and outcome), whose reservations stay held
/// until an operator or a vendor lookup resolves them. Re-running it changes nothing once settled.
/// Its work follows the traffic: only the tenant-days of the look-back that the activity index lists (every call's
/// tenant-day is indexed before its first row or reservation is written) are read, each with one range read of the
/// ledger's index of unsettled rows and its journal entries (settled rows are never read); tenants without calls cost nothing.
/// </summary>
public sealed class Reconciler(IReservationLedger audit, IActivityIndex activity, IVendorLookup vendors, RollupService rollups, ReportOptions reports, TimeProvider time)
{
    /// <summary>How many UTC days back to look, today included (Twilio prices can take up to 24 h).</summary>
    public int LookbackDays { get; init; } = 2;

    /// <summary>An in-doubt row younger than this may still be in flight, so it is left alone.</summary>
    public TimeSpan InDoubtGrace { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The tenant-days a run looks at: those of the look-back with activity (one index read per month spanned).</summary>
    public Task<IReadOnlyList<TenantDay>> DueAsync(CancellationToken cancellationToken)
    {
        DateOnly today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        return activity.ActiveAsync(today.AddDays(1 - LookbackDays), today, cancellationToken);
    }

    /// <summary>A whole run in this process: every due tenant-day, a bounded number at once.</summary>
    public async Task<ReconcileReport> RunAsync(CancellationToken cancellationToken) =>
        await RunAsync(await DueAsync(cancellationToken), cancellationToken);

    /// <summary>
    /// Reconciles these tenant-days (a queue work item's batch), a bounded number at once. Idempotent: every change is a
    /// transition conditional on the row's current state, so an item delivered twice, or racing another run, settles once.
    /// </summary>
    public async Task<ReconcileReport> RunAsync(IReadOnlyList<TenantDay> tenantDays, CancellationToken cancellationToken)
    {
        ReconcileReport[] results = await Bounded.SelectAsync(tenantDays, reports.MaxStorageRequestsInFlight, RunAsync, cancellationToken);
        return results.Aggregate(new ReconcileReport(0, 0, 0, 0), (a, b) => new ReconcileReport(
            a.Settled + b.Settled, a.StillEstimated + b.StillEstimated, a.InDoubtFlagged + b.InDoubtFlagged, a.Failed + b.Failed,
            a.InDoubtResolved + b.InDoubtResolved, a.JournalsFinished + b.JournalsFinished));
    }

    /// <summary>One tenant-day: its journal entries older than the grace, then its unsettled rows.</summary>
    public async Task<ReconcileReport> RunAsync(TenantDay tenantDay, CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        var day = new DateTimeOffset(tenantDay.Day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        int settled = 0, estimated = 0, flagged = 0, failed = 0, resolved = 0;

        // First what an instance left half-done on monthly and cross-tenant counters, older than the grace (its
        // writer may still be at work): then every row below starts from counters that agree with it.
        // One read for both: the ledger's index of unsettled rows and its journal sit in one range of the partition.
        (IReadOnlyList<AuditEntry> unsettled, int journals) = await audit.UnsettledAsync(tenantDay.Tenant, day, now - InDoubtGrace, cancellationToken);
        foreach (AuditEntry row in unsettled)
        {
            if (row.Outcome == AuditOutcome.InDoubt)
            {
                if (now - row.Timestamp < InDoubtGrace)
                {
                    continue;
                }

                if (await audit.ReplaysEarlierCallAsync(row, cancellationToken))
                {
                    // The vendor answers a replay from the first call, which carries the charge; a search by the shared
                    // Idempotency-Key tag would find that call's object and count it twice. Released at zero.
                    if (await SettleAsync(row, 0, current => current.Outcome == AuditOutcome.InDoubt, current => current with
                        {
                            Outcome = AuditOutcome.Error,
                            Reason = "resolved by reconciler: idempotent replay, charged on the first call",
                            Replay = true,
                        }, cancellationToken))
                    {
                        resolved++;
                    }

                    continue;
                }

                long? found = await TryInDoubtCostAsync(row, cancellationToken);
                if (found is long cost)
                {
                    // The snapshot may be stale (read once per tenant-day; an operator may have resolved the row
                    // since): the transition applies only while the row is still in doubt.
                    if (await SettleAsync(row, cost, current => current.Outcome == AuditOutcome.InDoubt, current => current with
                        {
                            Outcome = cost > 0 ? AuditOutcome.Forwarded : AuditOutcome.Error,
                            Reason = cost > 0 ? "resolved by reconciler: charged" : "resolved by reconciler: not charged",
                        }, cancellationToken))
                    {
                        resolved++;
                    }
                }
                else if (row.Reason?.EndsWith(FlagSuffix, StringComparison.Ordinal) != true)
                {
                    // Flagging keeps the reservation; written only on a row still in doubt, so a stale snapshot
                    // never brings a resolved row back.
                    AuditEntry? marked = await audit.TransitionAsync(row.Tenant, row.Id, current =>
                        current.Outcome == AuditOutcome.InDoubt && current.Reason?.EndsWith(FlagSuffix, StringComparison.Ordinal) != true
                            ? (current with { Reason = (current.Reason ?? "in_doubt") + FlagSuffix }, current.HeldMicros)
                            : null, cancellationToken);
                    if (marked is not null)
                    {
                        flagged++;
                    }
                }

                continue;
            }

            try
            {
                long? cost = await vendors.SettledCostAsync(row, cancellationToken);
                if (cost is null)
                {
                    estimated++;
                    continue;
                }

                if (await SettleAsync(row, cost.Value, current => current.Outcome == AuditOutcome.Forwarded && current.CostSource == CostSource.Estimated,
                        current => current, cancellationToken))
                {
                    settled++;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TimeoutException or KeybrakeException)
            {
                // One vendor hiccup must not stop the run; the row is tried again next time.
                failed++;
            }
        }

        return new ReconcileReport(settled, estimated, flagged, failed, resolved, journals);
    }

    private async Task<long?> TryInDoubtCostAsync(AuditEntry row, CancellationToken cancellationToken)
    {
        try
        {
            return await vendors.InDoubtCostAsync(row, cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or TimeoutException or KeybrakeException)
        {
            // Cannot tell now: the row stays in doubt and reserved, and is looked up again next run.
            return null;
        }
    }

    public const string FlagSuffix = "; flagged by reconciler";

    /// <summary>Settles a row still in the state <paramref name="due"/> accepts; false when another writer got there first.</summary>
    private async Task<bool> SettleAsync(
        AuditEntry row, long costMicros, Func<AuditEntry, bool> due, Func<AuditEntry, AuditEntry> shape, CancellationToken cancellationToken)
    {
        // The counters hold what the row recorded (its reservation); settling moves them to the real cost in the same
        // transaction as the row.
        AuditEntry? settled = await audit.TransitionAsync(row.Tenant, row.Id, current => due(current)
            ? (shape(current) with
            {
                CostMicros = costMicros,
                CostSource = CostSource.Settled,

                // A real cost above what the counters held passed the bound.
                OvershootMicros = costMicros > current.HeldMicros ? costMicros - current.HeldMicros : current.OvershootMicros,
            }, Math.Max(0, costMicros))
            : null, cancellationToken);
        if (settled is null)
        {
            return false;
        }

        await rollups.RefreshClosedDayAsync(row.Tenant, row.Timestamp, cancellationToken);
        return true;
    }
}
