using Keybrake.Domain.Activity;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Common;
using Keybrake.Domain.Operators;

namespace Keybrake.Domain.Export;

/// <summary>Sends one outbox row to its meter; exceptions only for cancellation.</summary>
public interface IMeterSender
{
    Task<MeterOutcome> SendAsync(MeterFormat meter, ExportRecord record, CancellationToken cancellationToken);
}

/// <summary>What an export run did. <see cref="State"/>: <c>exported</c>, <c>disabled</c> (target none) or <c>day_open</c>.</summary>
public sealed record ExportReport(
    string State, int Recorded = 0, int Skipped = 0, int Unmapped = 0, int Sent = 0, int Retrying = 0, int Rejected = 0, int Held = 0, int Expired = 0)
{
    public ExportReport Add(ExportReport other) => this with
    {
        Recorded = Recorded + other.Recorded,
        Skipped = Skipped + other.Skipped,
        Unmapped = Unmapped + other.Unmapped,
        Sent = Sent + other.Sent,
        Retrying = Retrying + other.Retrying,
        Rejected = Rejected + other.Rejected,
        Held = Held + other.Held,
        Expired = Expired + other.Expired,
    };
}

/// <summary>
/// Chargeback export: each tenant's net spend of a closed UTC day (from the day's tenant-level rollups,
/// summed over vendors) goes to the configured billing meter through a durable outbox.
/// <list type="number">
/// <item>Record: the day's first run records the day's event (sequence 0, dated the day) with its value
/// fixed. A later run that finds the day's net changed (a late settlement, an operator resolution)
/// records the difference as an adjustment (next sequence, dated now; negative = a credit); the closed
/// day's event is never rewritten. Sequences are claimed with insert-if-absent, so concurrent runs
/// record each change once.</item>
/// <item>Send: due pending rows go to the meter; accepted or "already have it" marks them sent, a
/// definite refusal marks them rejected, anything else backs off. Ids are deterministic, so a send
/// repeated after a crash is recognised by the meter as the same event.</item>
/// </list>
/// Values are whole cents, truncated toward zero; a day whose net is under one cent is recorded as skipped.
/// </summary>
public sealed class ExportService(
    IRollupStore rollups,
    IActivityIndex activity,
    ITenantBillingStore billing,
    IExportOutbox outbox,
    IMeterSender sender,
    ExportOptions options,
    ReportOptions reports,
    TimeProvider time)
{
    public const long MicrosPerCent = 10_000;

    /// <summary>
    /// Resends of an event stop this long after it was recorded (its first attempt is at or after that): Stripe keeps
    /// a meter event identifier unique for at least 24 hours, so a resend within the window is at worst its duplicate.
    /// </summary>
    public static readonly TimeSpan SafeResendWindow = TimeSpan.FromHours(23);

    /// <summary>First retry after this, doubling per failed attempt up to <see cref="MaxBackoff"/>.</summary>
    public static readonly TimeSpan FirstBackoff = TimeSpan.FromMinutes(10);

    public static readonly TimeSpan MaxBackoff = TimeSpan.FromHours(6);

    private const int MaxRecordAttempts = 5;

    /// <summary>
    /// A day older than this many days is closed to the export: nothing more is recorded for it (a late change to it is
    /// counted <c>expired</c>, not exported), so its sent rows can be deleted without a later run finding the day empty
    /// and exporting it whole again. Longer than the nightly catch-up (<see cref="RollupService.CatchUpDays"/>, 35), than
    /// Stripe's 35-day timestamp limit, and far longer than any meter's duplicate window (24 h).
    /// </summary>
    public const int RetentionDays = 40;

    /// <summary>How many days past the retention each nightly purge looks at: a missed night or two is made up.</summary>
    public const int PurgeWindowDays = 3;

    private readonly MeterFormat? _meter = MeterFormat.For(options.Target);

    /// <summary>The configured <see cref="ExportOptions.Target"/>.</summary>
    public string Target => options.Target;

    /// <summary>Records the day's events for every tenant active that day (no other has a rollup to export), then sends whatever is due.</summary>
    public async Task<ExportReport> RunAsync(DateOnly day, CancellationToken cancellationToken)
    {
        if (_meter is null)
        {
            return new ExportReport("disabled");
        }

        if (day >= Today())
        {
            return new ExportReport("day_open");
        }

        ExportReport report = new("exported");
        foreach (TenantDay active in await activity.ActiveAsync(day, day, cancellationToken))
        {
            report = report.Add(await RecordAsync(active.Tenant, day, cancellationToken));
        }

        return report.Add(await SendDueAsync(cancellationToken));
    }

    /// <summary>Records what a tenant-day still owes the meter (nothing, the day's event, or an adjustment).</summary>
    public async Task<ExportReport> RecordAsync(string tenant, DateOnly day, CancellationToken cancellationToken)
    {
        if (_meter is null)
        {
            return new ExportReport("disabled");
        }

        if (day < Today().AddDays(-RetentionDays))
        {
            return new ExportReport("exported", Expired: 1);
        }

        List<Rollup> tenantRows = [.. (await rollups.ListAsync(tenant, day, cancellationToken)).Where(r => r.Level == "tenant")];
        if (tenantRows.Count == 0)
        {
            return new ExportReport("exported");
        }

        string? customer = _meter.CustomerOf(await billing.GetAsync(tenant, cancellationToken) ?? TenantBilling.None(tenant));
        if (customer is null)
        {
            return new ExportReport("exported", Unmapped: 1);
        }

        long netMicros = tenantRows.Sum(r => r.GrossMicros - r.RefundsMicros);
        long cents = netMicros / MicrosPerCent;
        for (int attempt = 0; attempt < MaxRecordAttempts; attempt++)
        {
            IReadOnlyList<ExportRecord> existing = await outbox.ListAsync(tenant, day, _meter.Target, cancellationToken);
            ExportRecord? next = Next(tenant, day, customer, netMicros, cents, existing);
            if (next is null)
            {
                return new ExportReport("exported");
            }

            if (await outbox.TryAddAsync(next, cancellationToken))
            {
                return next.Status == ExportStatus.Skipped ? new ExportReport("exported", Skipped: 1) : new ExportReport("exported", Recorded: 1);
            }

            // Another run claimed this sequence number first: look again at what it recorded.
        }

        throw new InvalidOperationException($"Could not record the export of {tenant} {day:yyyy-MM-dd}: the sequence stayed contended.");
    }

    /// <summary>
    /// Sends every due pending row of the configured meter. The first failure that calls for a retry ends the
    /// pass: the meter is unwell, and the rest wait for the next pass instead of each waiting out a timeout.
    /// </summary>
    public async Task<ExportReport> SendDueAsync(CancellationToken cancellationToken)
    {
        if (_meter is null)
        {
            return new ExportReport("disabled");
        }

        ExportReport report = new("exported");
        foreach (ExportRecord row in await outbox.DueAsync(_meter.Target, time.GetUtcNow(), cancellationToken))
        {
            MeterOutcome outcome = await sender.SendAsync(_meter, row, cancellationToken);
            DateTimeOffset now = time.GetUtcNow();
            switch (outcome.Kind)
            {
                case MeterOutcomeKind.Accepted or MeterOutcomeKind.Duplicate:
                    await outbox.UpdateDeliveryAsync(row with
                    {
                        Status = ExportStatus.Sent,
                        Attempts = row.Attempts + 1,
                        SentAt = now,
                        Duplicate = outcome.Kind == MeterOutcomeKind.Duplicate,
                    }, cancellationToken);
                    report = report with { Sent = report.Sent + 1 };
                    break;
                case MeterOutcomeKind.Rejected:
                    await outbox.UpdateDeliveryAsync(row with { Status = ExportStatus.Rejected, Attempts = row.Attempts + 1, LastError = outcome.Detail }, cancellationToken);
                    report = report with { Rejected = report.Rejected + 1 };
                    break;
                default:
                    DateTimeOffset next = now + Backoff(row.Attempts + 1);
                    if (next >= row.RecordedAt + SafeResendWindow)
                    {
                        await outbox.UpdateDeliveryAsync(row with
                        {
                            Status = ExportStatus.Held,
                            Attempts = row.Attempts + 1,
                            LastError = outcome.Detail + "; held: a retry would fall past the meter's 24 h duplicate window, check the meter for this event id",
                        }, cancellationToken);
                        return report with { Held = report.Held + 1 };
                    }

                    await outbox.UpdateDeliveryAsync(row with { Attempts = row.Attempts + 1, NextAttemptAt = next, LastError = outcome.Detail }, cancellationToken);
                    return report with { Retrying = report.Retrying + 1 };
            }
        }

        return report;
    }

    /// <summary>The outbox rows of a day, for the tenants the caller may see (root: the tenants active that day, the only ones with rows).</summary>
    public async Task<IReadOnlyList<ExportRecord>> ListAsync(OperatorPrincipal caller, DateOnly day, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> tenants = caller.Tenant is not null
            ? [caller.Tenant]
            : [.. (await activity.ActiveAsync(day, day, cancellationToken)).Select(a => a.Tenant).Distinct().Order(StringComparer.Ordinal)];
        IReadOnlyList<ExportRecord>[] lists = await Bounded.SelectAsync(
            tenants, reports.MaxStorageRequestsInFlight, (t, ct) => outbox.ListAsync(t, day, null, ct), cancellationToken);
        return [.. lists.SelectMany(l => l)];
    }

    /// <summary>The tenant-days whose old rows a nightly purge deletes: those active in the few days just past the retention.</summary>
    public Task<IReadOnlyList<TenantDay>> PurgeDueAsync(CancellationToken cancellationToken)
    {
        DateOnly newest = Today().AddDays(-RetentionDays - 2);
        return activity.ActiveAsync(newest.AddDays(1 - PurgeWindowDays), newest, cancellationToken);
    }

    /// <summary>
    /// Deletes a tenant-day's <c>sent</c> and <c>skipped</c> rows once the day is a day past the retention (so no run
    /// records for it again, <see cref="RetentionDays"/>) and each row is older than any meter's duplicate window.
    /// Pending, held and rejected rows stay: they still need a send or an operator. Idempotent; returns the rows deleted.
    /// </summary>
    public async Task<int> PurgeAsync(string tenant, DateOnly day, CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        // A day's margin past the last day a run may still record for it: a run that started before midnight has finished.
        if (day > Today().AddDays(-RetentionDays - 2))
        {
            return 0;
        }

        int deleted = 0;
        foreach (ExportRecord row in await outbox.ListAsync(tenant, day, null, cancellationToken))
        {
            if (row.Status is ExportStatus.Sent or ExportStatus.Skipped && row.RecordedAt < now - DuplicateWindow
                && await outbox.DeleteAsync(row, cancellationToken))
            {
                deleted++;
            }
        }

        return deleted;
    }

    /// <summary>The longest duplicate window of the meters (Stripe's 24 h), with a day to spare.</summary>
    private static readonly TimeSpan DuplicateWindow = TimeSpan.FromHours(48);

    /// <summary>10 min, 20, 40, … doubling per failed attempt, at most 6 h.</summary>
    public static TimeSpan Backoff(int failedAttempts) =>
        TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, FirstBackoff.Ticks << Math.Clamp(failedAttempts - 1, 0, 10)));

    private ExportRecord? Next(string tenant, DateOnly day, string customer, long netMicros, long cents, IReadOnlyList<ExportRecord> existing)
    {
        DateTimeOffset now = time.GetUtcNow();
        if (existing.Count == 0)
        {
            return new ExportRecord
            {
                Tenant = tenant,
                Day = day,
                Target = _meter!.Target,
                Sequence = 0,
                Customer = customer,
                EventName = options.EventName,
                ValueCents = cents,
                NetMicros = netMicros,
                Timestamp = new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero),
                Status = cents == 0 ? ExportStatus.Skipped : ExportStatus.Pending,
                NextAttemptAt = now,
                RecordedAt = now,
            };
        }

        // What the meter has or will have: sent and pending rows. Rejected rows never reached it, so a
        // still-owed amount goes out again as an adjustment (e.g. after the tenant's mapping is fixed).
        long owed = cents - existing.Where(r => r.Status is ExportStatus.Sent or ExportStatus.Pending or ExportStatus.Held).Sum(r => r.ValueCents);
        return owed == 0 ? null : new ExportRecord
        {
            Tenant = tenant,
            Day = day,
            Target = _meter!.Target,
            Sequence = existing.Max(r => r.Sequence) + 1,
            Customer = customer,
            EventName = options.EventName,
            ValueCents = owed,
            NetMicros = netMicros,
            Timestamp = now,
            Status = ExportStatus.Pending,
            NextAttemptAt = now,
            RecordedAt = now,
        };
    }

    private DateOnly Today() => DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
}
