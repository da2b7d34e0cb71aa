using Keybrake.Domain.Export;
using Keybrake.Infrastructure.Storage;
using Keybrake.Tests.Support;

namespace Keybrake.Tests.Export;

/// <summary>The outbox's due index on Azurite: a send run reads what is due, whatever else the table holds.</summary>
public sealed class ExportOutboxDueTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 3, 0, 10, 0, TimeSpan.Zero);
    private readonly StorageRequestCounter _requests = new();
    private readonly TableExportOutbox _outbox;

    public ExportOutboxDueTests() =>
        _outbox = new TableExportOutbox(new KeybrakeTables(_requests.Client(), new TableOptions { Prefix = TestStorage.NewPrefix() }));

    [Fact]
    public async Task Due_ReadsOnlyDueEntries_SentAndRescheduledRowsLeaveIt()
    {
        foreach (string tenant in new[] { "acme", "globex", "initech" })
        {
            Assert.True(await _outbox.TryAddAsync(Record(tenant), CancellationToken.None));
        }

        Dictionary<string, ExportRecord> due = (await _outbox.DueAsync("lago", Now, CancellationToken.None)).ToDictionary(r => r.Tenant);
        Assert.Equal(["acme", "globex", "initech"], due.Keys.Order());
        Assert.True(await _outbox.UpdateDeliveryAsync(due["acme"] with { Status = ExportStatus.Sent, SentAt = Now }, CancellationToken.None));
        Assert.True(await _outbox.UpdateDeliveryAsync(due["globex"] with { Attempts = 1, NextAttemptAt = Now.AddHours(1) }, CancellationToken.None));

        Assert.Equal(["initech"], (await _outbox.DueAsync("lago", Now, CancellationToken.None)).Select(r => r.Tenant));

        // The stale entries (acme sent, globex's earlier attempt) went on the run that found them: now one query and one row read.
        _requests.Reset();
        Assert.Equal(["initech"], (await _outbox.DueAsync("lago", Now, CancellationToken.None)).Select(r => r.Tenant));
        Assert.True(_requests.Count == 2, _requests.Sent);

        Assert.Equal(["globex", "initech"], (await _outbox.DueAsync("lago", Now.AddHours(1), CancellationToken.None)).Select(r => r.Tenant).Order());
        Assert.Empty(await _outbox.DueAsync("openmeter", Now.AddHours(1), CancellationToken.None));
    }

    private static ExportRecord Record(string tenant) => new()
    {
        Tenant = tenant, Day = new DateOnly(2026, 11, 2), Target = "lago", Sequence = 0, Customer = "cus_" + tenant, EventName = "keybrake_spend",
        ValueCents = 1234, NetMicros = 12_340_000, Timestamp = Now.AddDays(-1), Status = ExportStatus.Pending, NextAttemptAt = Now, RecordedAt = Now,
    };
}
