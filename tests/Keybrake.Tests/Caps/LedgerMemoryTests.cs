using Keybrake.Domain.Audit;
using Keybrake.Domain.Caps;
using Keybrake.Infrastructure.Storage;
using Keybrake.Tests.Support;

namespace Keybrake.Tests.Caps;

/// <summary>
/// The ledger's per-instance maps (cached counters, loop windows, written intents, partition writers) follow keys,
/// call shapes and days; each is bounded, so a long-lived instance does not grow with its traffic. Counted on
/// Azurite with small limits; what is dropped is only a shortcut, so the counters stay exact.
/// </summary>
public sealed class LedgerMemoryTests
{
    private const long Unit = 1_000_000;
    private const int Calls = 40;

    [Fact]
    public async Task EveryMap_StaysWithinItsLimit_OverManyTenantsKeysAndCallShapes_AndCountersStayExact()
    {
        var limits = new LedgerMemoryLimits(Counters: 6, LoopWindows: 5, Intents: 4, IdleWriters: 3);
        var bounded = new TableReservationLedger(new KeybrakeTables(TestStorage.Service(), new TableOptions { Prefix = TestStorage.NewPrefix() }), limits);
        int ceiling = limits.Counters + limits.LoopWindows + limits.Intents + limits.IdleWriters + 1;

        var reservations = new List<(CapCounter Key, long Expected)>();
        for (int i = 0; i < Calls; i++)
        {
            reservations.Add(await CallAsync(bounded, i));
            Assert.True(bounded.RememberedEntries <= ceiling, $"after call {i}: {bounded.RememberedEntries} entries, limits allow {ceiling}");
        }

        // The same traffic with the default limits keeps an entry per counter, call shape, open intent and partition:
        // the bound above is what keeps the first ledger small.
        var unbounded = new TableReservationLedger(new KeybrakeTables(TestStorage.Service(), new TableOptions { Prefix = TestStorage.NewPrefix() }));
        for (int i = 0; i < Calls; i++)
        {
            await CallAsync(unbounded, i);
        }

        Assert.True(unbounded.RememberedEntries >= 3 * Calls, $"{unbounded.RememberedEntries} entries with the default limits");

        foreach ((CapCounter key, long expected) in reservations)
        {
            Assert.Equal(expected, await bounded.UsedAsync(key, CancellationToken.None));
        }
    }

    /// <summary>
    /// One call in its own tenant (partition), with its own key counter and loop window; every other call is left
    /// open after its reservation (its written intent stays remembered until an outcome), the rest settle at 1 unit.
    /// </summary>
    private static async Task<(CapCounter Key, long Expected)> CallAsync(TableReservationLedger ledger, int i)
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        string tenant = $"mem{i}x" + Guid.NewGuid().ToString("N")[..8];
        string partition = AuditEntry.PartitionFor(tenant, now);
        CapCounter key = new(partition, $"~cap|key|k{i}", 100 * Unit, "the daily cap of this key");
        var loop = new LoopGuard(partition, AuditRowKeys.LoopWindow($"k{i}", $"shape{i}"), 10, TimeSpan.FromMinutes(1));
        var reservation = new Reservation(2 * Unit, [key], null, loop);
        AuditEntry intent = new()
        {
            Id = AuditEntry.NewId(now),
            Timestamp = now,
            Tenant = tenant,
            Label = tenant + ":agent:memory",
            KeyId = $"k{i}",
            Vendor = "stripe",
            Method = "POST",
            Path = "/v1/payment_intents",
            Outcome = AuditOutcome.InDoubt,
        };
        Assert.Equal(BeginStatus.Reserved, (await ledger.BeginAsync(intent, reservation, CancellationToken.None)).Status);
        if (i % 2 == 0)
        {
            return (key, 2 * Unit);
        }

        AuditEntry outcome = intent with { Outcome = AuditOutcome.Forwarded, Status = 200, CostMicros = Unit, CostSource = "vendor" };
        await ledger.CompleteAsync(outcome, reservation, Unit, releaseIdempotencyKey: false, CancellationToken.None);
        return (key, Unit);
    }
}
