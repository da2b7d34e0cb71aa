using Keybrake.Domain.Audit;
using Keybrake.Domain.Caps;
using Keybrake.Domain.Proxy;
using Keybrake.Infrastructure.Storage;
using Keybrake.Tests.Support;

namespace Keybrake.Tests.Caps;

/// <summary>
/// What every reservation ledger must do, run against the table ledger on Azurite (two instances on the same tables,
/// so that group commit inside an instance and ETag races between instances are both exercised) and against the
/// in-memory ledger the benchmark uses, so the two cannot drift apart.
/// </summary>
public abstract class LedgerContractTests
{
    private const long Unit = 1_000_000;
    private readonly string _tenant = "t" + Guid.NewGuid().ToString("N")[..10];

    /// <summary>Two ledgers over one store: two instances for the table ledger, the same object twice in memory.</summary>
    protected abstract (IReservationLedger First, IReservationLedger Second) CreateLedgers();

    [Fact]
    public async Task ConcurrentReservations_OnOneCounter_ReserveExactlyTheLimit()
    {
        (IReservationLedger a, IReservationLedger b) = CreateLedgers();
        DateTimeOffset now = DateTimeOffset.UtcNow;
        CapCounter key = KeyCounter(now, 10 * Unit);
        CapCounter budget = new(Partition(now), "~cap|budget|contract", 12 * Unit, "a tenant budget");

        BeginResult[] results = await Task.WhenAll(Enumerable.Range(0, 48).Select(i => Task.Run(() =>
            (i % 2 == 0 ? a : b).BeginAsync(Intent(now), new Reservation(Unit, [key, budget], null, null), CancellationToken.None))));

        Assert.Equal(10, results.Count(r => r.Status == BeginStatus.Reserved));
        Assert.Equal(38, results.Count(r => r.Status == BeginStatus.CapExceeded));
        Assert.All(results.Where(r => r.Status == BeginStatus.CapExceeded), r => Assert.Equal(key, r.Exceeded));
        Assert.Equal(10 * Unit, await a.UsedAsync(key, CancellationToken.None));
        Assert.Equal(10 * Unit, await b.UsedAsync(budget, CancellationToken.None));

        // Each reserved call saw its own increment: the values it was given are the ten distinct steps up to the limit.
        Assert.Equal(Enumerable.Range(1, 10).Select(i => i * Unit), results.Where(r => r.Status == BeginStatus.Reserved)
            .Select(r => r.Reserved.Single(c => c.Counter == key).Used).Order());
    }

    [Fact]
    public async Task ARefusedCall_IsLeftOut_AndTheCallsBesideItCommit()
    {
        (IReservationLedger a, IReservationLedger b) = CreateLedgers();
        DateTimeOffset now = DateTimeOffset.UtcNow;
        CapCounter key = KeyCounter(now, 10 * Unit);
        long[] amounts = [7 * Unit, 1 * Unit, 6 * Unit, 1 * Unit, 1 * Unit, 8 * Unit, 1 * Unit, 1 * Unit, 5 * Unit, 1 * Unit];
        AuditEntry[] intents = [.. amounts.Select(_ => Intent(now))];

        BeginResult[] results = await Task.WhenAll(amounts.Select((amount, i) => Task.Run(() =>
            (i % 2 == 0 ? a : b).BeginAsync(intents[i], new Reservation(amount, [key], null, null), CancellationToken.None))));

        long used = await a.UsedAsync(key, CancellationToken.None);
        long reserved = amounts.Where((_, i) => results[i].Status == BeginStatus.Reserved).Sum();
        Assert.Equal(reserved, used);
        Assert.True(used <= 10 * Unit, $"{used} reserved past the 10 unit limit");
        for (int i = 0; i < amounts.Length; i++)
        {
            AuditEntry? row = await b.GetAsync(_tenant, intents[i].Id, CancellationToken.None);
            if (results[i].Status == BeginStatus.Reserved)
            {
                Assert.Equal(AuditOutcome.InDoubt, row?.Outcome);
                Assert.Equal(amounts[i], row!.HeldMicros);
            }
            else
            {
                // Refused only for its own size: the counter can no longer take it, and nothing of it was written.
                Assert.Equal(BeginStatus.CapExceeded, results[i].Status);
                Assert.True(amounts[i] > 10 * Unit - used, $"call {i} ({amounts[i]}) was refused with {10 * Unit - used} left");
                Assert.Null(row);
            }
        }
    }

    [Fact]
    public async Task ConcurrentRetries_OfOneIdempotencyKey_AreCountedOnce()
    {
        (IReservationLedger a, IReservationLedger b) = CreateLedgers();
        DateTimeOffset now = DateTimeOffset.UtcNow;
        CapCounter key = KeyCounter(now, 100 * Unit);
        string marker = AuditRowKeys.Idempotency("k1", "order-1");
        AuditEntry[] intents = [.. Enumerable.Range(0, 16).Select(_ => Intent(now) with { IdempotencyKey = "order-1" })];

        BeginResult[] results = await Task.WhenAll(intents.Select((intent, i) =>
            (i % 2 == 0 ? a : b).BeginAsync(intent, new Reservation(3 * Unit, [key], marker, null), CancellationToken.None)));

        Assert.Equal(1, results.Count(r => r.Status == BeginStatus.Reserved));
        Assert.Equal(15, results.Count(r => r.Status == BeginStatus.Replay));
        Assert.Equal(3 * Unit, await a.UsedAsync(key, CancellationToken.None));
        foreach (AuditEntry replay in intents.Where((_, i) => results[i].Status == BeginStatus.Replay))
        {
            AuditEntry? row = await a.GetAsync(_tenant, replay.Id, CancellationToken.None);
            Assert.True(row is { Replay: true, HeldMicros: 0 }, $"replay row {replay.Id}: {row}");
            Assert.True(await b.ReplaysEarlierCallAsync(row!, CancellationToken.None));
        }
    }

    [Fact]
    public async Task TheLoopBreaker_LetsMaxCallsThrough_AndRefusesTheRest()
    {
        (IReservationLedger a, IReservationLedger b) = CreateLedgers();
        DateTimeOffset now = DateTimeOffset.UtcNow;
        CapCounter key = KeyCounter(now, 100 * Unit);
        var loop = new LoopGuard(Partition(now), "~loop|k1|same-call", 3, TimeSpan.FromMinutes(1));

        BeginResult[] results = await Task.WhenAll(Enumerable.Range(0, 12).Select(i =>
            (i % 2 == 0 ? a : b).BeginAsync(Intent(now), new Reservation(Unit, [key], null, loop), CancellationToken.None)));

        Assert.Equal(3, results.Count(r => r.Status == BeginStatus.Reserved));
        Assert.Equal(9, results.Count(r => r.Status == BeginStatus.LoopDetected));
        Assert.Equal(3 * Unit, await a.UsedAsync(key, CancellationToken.None));
    }

    [Fact]
    public async Task Settlement_MovesEveryRecordedCounter_ToTheHeldAmount_Once()
    {
        (IReservationLedger a, IReservationLedger b) = CreateLedgers();
        DateTimeOffset now = DateTimeOffset.UtcNow;
        CapCounter key = KeyCounter(now, 100 * Unit);
        CapCounter monthly = new(CapPlanner.MonthPartition(_tenant, now), "~cap|budget|month", 100 * Unit, "a monthly budget", Monthly: true);
        AuditEntry intent = Intent(now);
        var reservation = new Reservation(5 * Unit, [key, monthly], null, null);
        Assert.Equal(BeginStatus.Reserved, (await a.BeginAsync(intent, reservation, CancellationToken.None)).Status);

        AuditEntry outcome = intent with { Outcome = AuditOutcome.Forwarded, Status = 200, CostMicros = 3 * Unit, CostSource = "vendor" };
        await a.CompleteAsync(outcome, reservation, 3 * Unit, releaseIdempotencyKey: false, CancellationToken.None);

        Assert.Equal(3 * Unit, await b.UsedAsync(key, CancellationToken.None));
        Assert.Equal(3 * Unit, await b.UsedAsync(monthly, CancellationToken.None));
        AuditEntry? row = await b.GetAsync(_tenant, intent.Id, CancellationToken.None);
        Assert.True(row is { Outcome: AuditOutcome.Forwarded, HeldMicros: 3 * Unit }, $"{row}");

        // A late second answer (the row is no longer in doubt) moves nothing.
        await b.CompleteAsync(outcome with { CostMicros = 9 * Unit }, reservation, 9 * Unit, releaseIdempotencyKey: false, CancellationToken.None);
        Assert.Equal(3 * Unit, await a.UsedAsync(key, CancellationToken.None));
        Assert.Equal(3 * Unit, await a.UsedAsync(monthly, CancellationToken.None));
    }

    [Fact]
    public async Task Release_GivesTheReservationBack_AndFreesTheIdempotencyKey()
    {
        (IReservationLedger a, IReservationLedger b) = CreateLedgers();
        DateTimeOffset now = DateTimeOffset.UtcNow;
        CapCounter key = KeyCounter(now, 5 * Unit);
        string marker = AuditRowKeys.Idempotency("k1", "order-2");
        var reservation = new Reservation(5 * Unit, [key], marker, null);
        AuditEntry intent = Intent(now) with { IdempotencyKey = "order-2" };
        Assert.Equal(BeginStatus.Reserved, (await a.BeginAsync(intent, reservation, CancellationToken.None)).Status);

        AuditEntry refused = intent with { Outcome = AuditOutcome.Forwarded, Status = 402, CostMicros = 0, CostSource = "vendor" };
        await a.CompleteAsync(refused, reservation, 0, releaseIdempotencyKey: true, CancellationToken.None);
        Assert.Equal(0, await b.UsedAsync(key, CancellationToken.None));

        // The vendor will not replay a refusal: the retry is a new attempt and reserves again, up to the whole cap.
        BeginResult retry = await b.BeginAsync(Intent(now) with { IdempotencyKey = "order-2" }, reservation, CancellationToken.None);
        Assert.Equal(BeginStatus.Reserved, retry.Status);
        Assert.Equal(5 * Unit, await a.UsedAsync(key, CancellationToken.None));
    }

    [Fact]
    public async Task RacingTransitions_OfOneRow_HappenExactlyOnce()
    {
        (IReservationLedger a, IReservationLedger b) = CreateLedgers();
        DateTimeOffset now = DateTimeOffset.UtcNow;
        CapCounter key = KeyCounter(now, 100 * Unit);
        AuditEntry[] intents = [.. Enumerable.Range(0, 4).Select(_ => Intent(now))];
        foreach (AuditEntry intent in intents)
        {
            Assert.Equal(BeginStatus.Reserved, (await a.BeginAsync(intent, new Reservation(4 * Unit, [key], null, null), CancellationToken.None)).Status);
        }

        // Each of four rows is resolved by eight racers at once (an operator, the reconciler, a late outcome), each
        // holding a different amount: exactly one wins per row and the counter holds exactly the winners' amounts.
        AuditEntry?[] written = await Task.WhenAll(intents.SelectMany((intent, row) => Enumerable.Range(1, 8).Select(racer =>
            (racer % 2 == 0 ? a : b).TransitionAsync(_tenant, intent.Id, current => current.Outcome == AuditOutcome.InDoubt
                ? (current with { Outcome = AuditOutcome.Forwarded, Reason = "racer " + racer }, racer * Unit)
                : null, CancellationToken.None))));

        AuditEntry[] winners = [.. written.OfType<AuditEntry>()];
        Assert.Equal(intents.Select(i => i.Id).Order(), winners.Select(w => w.Id).Order());
        Assert.Equal(winners.Sum(w => w.HeldMicros), await b.UsedAsync(key, CancellationToken.None));
        foreach (AuditEntry winner in winners)
        {
            AuditEntry? row = await a.GetAsync(_tenant, winner.Id, CancellationToken.None);
            Assert.Equal(winner.Reason, row?.Reason);
        }
    }

    [Fact]
    public async Task UnsettledRows_AreTheRowsNotFinal_AsTheyStandNow()
    {
        (IReservationLedger a, IReservationLedger b) = CreateLedgers();
        DateTimeOffset now = DateTimeOffset.UtcNow;
        CapCounter key = KeyCounter(now, 10 * Unit);
        Reservation Plain(long amount) => new(amount, [key], null, null);
        AuditEntry Forwarded(AuditEntry intent, string source, long cost) =>
            intent with { Outcome = AuditOutcome.Forwarded, Status = 200, CostMicros = cost, CostSource = source };

        AuditEntry pending = Intent(now), priced = Intent(now), later = Intent(now), settledLater = Intent(now), flagged = Intent(now);
        AuditEntry refused = Intent(now), first = Intent(now) with { IdempotencyKey = "order-9" }, replay = Intent(now) with { IdempotencyKey = "order-9" };
        AuditEntry denied = Intent(now) with { Outcome = AuditOutcome.Denied, Reason = "cap_exceeded" };
        AuditEntry yesterday = Intent(now.AddDays(-1));
        foreach (AuditEntry intent in new[] { pending, priced, later, settledLater, flagged })
        {
            Assert.Equal(BeginStatus.Reserved, (await a.BeginAsync(intent, Plain(Unit), CancellationToken.None)).Status);
        }

        var idempotent = new Reservation(Unit, [key], AuditRowKeys.Idempotency("k1", "order-9"), null);
        Assert.Equal(BeginStatus.Reserved, (await a.BeginAsync(first, idempotent, CancellationToken.None)).Status);
        Assert.Equal(BeginStatus.Replay, (await b.BeginAsync(replay, idempotent, CancellationToken.None)).Status);
        Assert.Equal(BeginStatus.CapExceeded, (await b.BeginAsync(refused, Plain(20 * Unit), CancellationToken.None)).Status);
        Assert.Equal(BeginStatus.Reserved, (await b.BeginAsync(yesterday, new Reservation(Unit, [KeyCounter(yesterday.Timestamp, 10 * Unit)], null, null), CancellationToken.None)).Status);
        await a.RecordDenialAsync(denied, CancellationToken.None);

        // Final: priced from the answer; estimated then settled; the first call of the key, priced. Not final: an estimate
        // (a price that comes later), a call left in doubt, one flagged in doubt, the replay (no outcome yet).
        await a.CompleteAsync(Forwarded(priced, CostSource.Parsed, Unit), Plain(Unit), Unit, releaseIdempotencyKey: false, CancellationToken.None);
        await b.CompleteAsync(Forwarded(later, CostSource.Estimated, Unit), Plain(Unit), Unit, releaseIdempotencyKey: false, CancellationToken.None);
        await a.CompleteAsync(Forwarded(settledLater, CostSource.Estimated, Unit), Plain(Unit), Unit, releaseIdempotencyKey: false, CancellationToken.None);
        Assert.NotNull(await b.TransitionAsync(_tenant, settledLater.Id, current => current.Outcome == AuditOutcome.Forwarded && current.CostSource == CostSource.Estimated
            ? (current with { CostMicros = 2 * Unit, CostSource = CostSource.Settled }, 2 * Unit) : null, CancellationToken.None));
        Assert.NotNull(await a.TransitionAsync(_tenant, flagged.Id, current => (current with { Reason = "in_doubt; flagged" }, current.HeldMicros), CancellationToken.None));
        await b.CompleteAsync(Forwarded(first, CostSource.Parsed, Unit), idempotent, Unit, releaseIdempotencyKey: false, CancellationToken.None);

        foreach (IReservationLedger ledger in new[] { a, b })
        {
            UnsettledDay day = await ledger.UnsettledAsync(_tenant, now, DateTimeOffset.MinValue, CancellationToken.None);
            Assert.Equal(0, day.JournalsFinished);
            Assert.Equal(new[] { pending.Id, later.Id, flagged.Id, replay.Id }.Order(StringComparer.Ordinal), day.Rows.Select(r => r.Id));

            // Each as it stands now, exactly as the row itself reads.
            foreach (AuditEntry row in day.Rows)
            {
                Assert.Equivalent(await ledger.GetAsync(_tenant, row.Id, CancellationToken.None), row, strict: true);
            }

            Assert.True(day.Rows.Single(r => r.Id == later.Id) is { Outcome: AuditOutcome.Forwarded, CostSource: CostSource.Estimated, HeldMicros: Unit });
            Assert.Equal("in_doubt; flagged", day.Rows.Single(r => r.Id == flagged.Id).Reason);
            Assert.True(day.Rows.Single(r => r.Id == replay.Id) is { Replay: true, HeldMicros: 0 });
            Assert.Equal([yesterday.Id], (await ledger.UnsettledAsync(_tenant, yesterday.Timestamp, DateTimeOffset.MinValue, CancellationToken.None)).Rows.Select(r => r.Id));
        }

        // Made final, each leaves the unsettled rows, in whichever instance it happens.
        await a.CompleteAsync(Forwarded(replay, CostSource.Parsed, 0) with { Replay = true }, idempotent, 0, releaseIdempotencyKey: false, CancellationToken.None);
        Assert.NotNull(await b.TransitionAsync(_tenant, later.Id, current => (current with { CostSource = CostSource.Settled }, current.HeldMicros), CancellationToken.None));
        Assert.NotNull(await a.TransitionAsync(_tenant, flagged.Id, current => (current with { Outcome = AuditOutcome.Error, CostSource = CostSource.Settled }, 0), CancellationToken.None));
        Assert.Equal([pending.Id], (await b.UnsettledAsync(_tenant, now, DateTimeOffset.MinValue, CancellationToken.None)).Rows.Select(r => r.Id));
    }

    [Fact]
    public async Task DayRows_AreTheAuditRows_WithTheirPartitionsCounters()
    {
        (IReservationLedger a, IReservationLedger b) = CreateLedgers();
        DateTimeOffset now = DateTimeOffset.UtcNow;
        CapCounter key = KeyCounter(now, 10 * Unit);
        CapCounter budget = new(Partition(now), "~cap|budget|day", 10 * Unit, "a tenant budget");
        AuditEntry open = Intent(now), done = Intent(now);
        var reservation = new Reservation(2 * Unit, [key, budget], AuditRowKeys.Idempotency("k1", "order-3"), new LoopGuard(Partition(now), "~loop|k1|x", 9, TimeSpan.FromMinutes(1)));
        Assert.Equal(BeginStatus.Reserved, (await a.BeginAsync(open with { IdempotencyKey = "order-3" }, reservation, CancellationToken.None)).Status);
        Assert.Equal(BeginStatus.Reserved, (await b.BeginAsync(done, new Reservation(Unit, [key], null, null), CancellationToken.None)).Status);
        await b.CompleteAsync(done with { Outcome = AuditOutcome.Forwarded, CostMicros = Unit, CostSource = CostSource.Parsed }, new Reservation(Unit, [key], null, null), Unit, false, CancellationToken.None);

        foreach (IReservationLedger ledger in new[] { a, b })
        {
            LedgerDay day = await ledger.DayAsync(_tenant, now, CancellationToken.None);

            // Two audit rows (no index entry, marker or loop window among them) and the two counters.
            Assert.Equal(new[] { open.Id, done.Id }.Order(StringComparer.Ordinal), day.Rows.Select(r => r.Id));
            Assert.Equal([(budget.Ref, 2 * Unit), (key.Ref, 3 * Unit)], day.Counters);
        }
    }

    private string Partition(DateTimeOffset at) => AuditEntry.PartitionFor(_tenant, at);

    private CapCounter KeyCounter(DateTimeOffset at, long limit) => new(Partition(at), "~cap|key|k1", limit, "the daily cap of this key");

    private AuditEntry Intent(DateTimeOffset at) => new()
    {
        Id = AuditEntry.NewId(at),
        Timestamp = at,
        Tenant = _tenant,
        Label = _tenant + ":agent:contract",
        KeyId = "k1",
        Vendor = "stripe",
        Method = "POST",
        Path = "/v1/payment_intents",
        Outcome = AuditOutcome.InDoubt,
    };
}

public sealed class TableLedgerContractTests : LedgerContractTests
{
    protected override (IReservationLedger First, IReservationLedger Second) CreateLedgers()
    {
        var options = new TableOptions { Prefix = TestStorage.NewPrefix() };
        return (new TableReservationLedger(new KeybrakeTables(TestStorage.Service(), options)),
                new TableReservationLedger(new KeybrakeTables(TestStorage.Service(), options)));
    }
}

public sealed class InMemoryLedgerContractTests : LedgerContractTests
{
    protected override (IReservationLedger First, IReservationLedger Second) CreateLedgers()
    {
        var ledger = new InMemoryReservationLedger();
        return (ledger, ledger);
    }
}
