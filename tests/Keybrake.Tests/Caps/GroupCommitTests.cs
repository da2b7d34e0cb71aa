using Keybrake.Domain.Audit;
using Keybrake.Domain.Caps;
using Keybrake.Infrastructure.Storage;
using Keybrake.Tests.Support;

namespace Keybrake.Tests.Caps;

/// <summary>Group commit counted, not timed: entity-group transactions per call on one hot partition.</summary>
public sealed class GroupCommitTests
{
    private const long Unit = 1_000_000;

    [Fact]
    public async Task SixtyFourConcurrentCalls_OnOneTenant_TakeAtMostOneTransactionPerCall_ReservationAndSettlementTogether()
    {
        var requests = new StorageRequestCounter();
        var ledger = new TableReservationLedger(new KeybrakeTables(requests.Client(), new TableOptions { Prefix = TestStorage.NewPrefix() }));
        string tenant = "t" + Guid.NewGuid().ToString("N")[..10];
        DateTimeOffset now = DateTimeOffset.UtcNow;
        string partition = AuditEntry.PartitionFor(tenant, now);
        CapCounter key = new(partition, "~cap|key|k1", 1_000 * Unit, "the daily cap of this key");
        CapCounter budget = new(partition, "~cap|budget|hot", 1_000 * Unit, "the tenant's daily budget");
        var reservation = new Reservation(2 * Unit, [key, budget], null, null);

        // Warm: the table exists and this instance knows both counters' values and ETags, as after a tenant's first call.
        await CallAsync();
        requests.Reset();

        await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => Task.Run(CallAsync)));

        int transactions = requests.Sent.Split("; ").Count(r => r.Contains("$batch", StringComparison.Ordinal));
        Assert.True(transactions <= 64, $"{transactions} transactions for 64 calls (a reservation and a settlement each): {requests.Sent}");

        // Each call reserved 2 units and settled at 1: the counters hold exactly the settled amounts, 65 calls' worth.
        Assert.Equal(65 * Unit, await ledger.UsedAsync(key, CancellationToken.None));
        Assert.Equal(65 * Unit, await ledger.UsedAsync(budget, CancellationToken.None));

        async Task CallAsync()
        {
            AuditEntry intent = new()
            {
                Id = AuditEntry.NewId(now),
                Timestamp = now,
                Tenant = tenant,
                Label = tenant + ":agent:hot",
                KeyId = "k1",
                Vendor = "stripe",
                Method = "POST",
                Path = "/v1/payment_intents",
                Outcome = AuditOutcome.InDoubt,
            };
            Assert.Equal(BeginStatus.Reserved, (await ledger.BeginAsync(intent, reservation, CancellationToken.None)).Status);
            AuditEntry outcome = intent with { Outcome = AuditOutcome.Forwarded, Status = 200, CostMicros = Unit, CostSource = "vendor" };
            await ledger.CompleteAsync(outcome, reservation, Unit, releaseIdempotencyKey: false, CancellationToken.None);
        }
    }
}
