using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using Keybrake.DevHost;
using Keybrake.Domain.Export;
using Keybrake.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Keybrake.Tests.Export;

/// <summary>
/// Export rows an older version left pending without a due entry: the send run reads only the due index, so until the
/// backfill gives them their entries they would never be sent. The backfill indexes pending rows only, and only once.
/// </summary>
public sealed class ExportDueBackfillTests : IAsyncLifetime
{
    private ProxyHost _proxy = null!;

    public async Task InitializeAsync() => _proxy = await ProxyHost.StartAsync();

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    [Fact]
    public async Task PendingRowsWithoutDueEntries_AreDueAfterTheBackfill_SentAndSkippedRowsAreLeftAlone()
    {
        JsonElement card = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-1", "stripe", "POST /v1/payment_intents");
        Assert.Equal(HttpStatusCode.OK, (await _proxy.StripeChargeAsync(card, 1250)).StatusCode);
        DateTimeOffset now = _proxy.Host.Time.GetUtcNow();
        DateOnly today = DateOnly.FromDateTime(now.UtcDateTime);
        DateOnly yesterday = today.AddDays(-1);
        Assert.Equal(HttpStatusCode.OK, (await _proxy.StripeChargeAsync(card, 900)).StatusCode);

        // Export rows for today's tenant-day as an older version wrote them: two pending (two targets), one sent, one
        // skipped; and a pending row of yesterday, a day without audit rows (an export row cannot have one: never indexed).
        IExportOutbox outbox = _proxy.Host.Services.GetRequiredService<IExportOutbox>();
        ExportRecord[] rows =
        [
            Record(today, "lago", 0, ExportStatus.Pending, now),
            Record(today, "openmeter", 0, ExportStatus.Pending, now.AddMinutes(-5)),
            Record(today, "lago", 1, ExportStatus.Sent, now),
            Record(today, "lago", 2, ExportStatus.Skipped, now),
            Record(yesterday, "lago", 0, ExportStatus.Pending, now),
        ];
        foreach (ExportRecord row in rows)
        {
            Assert.True(await outbox.TryAddAsync(row, CancellationToken.None));
        }

        TableClient exports = TestStorage.Service().GetTableClient(_proxy.Host.TablePrefix + "exports");
        foreach (TableEntity entry in await DueEntriesAsync(exports))
        {
            await exports.DeleteEntityAsync(entry.PartitionKey, entry.RowKey, ETag.All);
        }

        Assert.Empty(await outbox.DueAsync("lago", now, CancellationToken.None));
        Assert.Empty(await outbox.DueAsync("openmeter", now, CancellationToken.None));

        using HttpClient root = _proxy.Host.Client();
        Assert.Equal(HttpStatusCode.Accepted, (await root.PostAsJsonAsync("/v1/maintenance/backfill", new { days = 2 })).StatusCode);
        Assert.Equal(1, await _proxy.Host.Services.GetRequiredService<QueuePoller>().DrainAsync(CancellationToken.None));
        Assert.Contains("2 tenant-days read, 1 with audit rows (in the activity index now), 0 unsettled rows indexed, 2 pending export rows indexed",
            _proxy.Host.Logs.All, StringComparison.Ordinal);

        Assert.Equal([(today, 0)], (await outbox.DueAsync("lago", now, CancellationToken.None)).Select(r => (r.Day, r.Sequence)));
        Assert.Equal([(today, 0)], (await outbox.DueAsync("openmeter", now, CancellationToken.None)).Select(r => (r.Day, r.Sequence)));
        Assert.Equal(2, (await DueEntriesAsync(exports)).Count);

        // Again: the same entries (keyed by the rows' next attempts), none added.
        Assert.Equal(HttpStatusCode.Accepted, (await root.PostAsJsonAsync("/v1/maintenance/backfill", new { days = 2 })).StatusCode);
        Assert.Equal(1, await _proxy.Host.Services.GetRequiredService<QueuePoller>().DrainAsync(CancellationToken.None));
        Assert.Equal(2, (await DueEntriesAsync(exports)).Count);
    }

    private static async Task<List<TableEntity>> DueEntriesAsync(TableClient exports) =>
        await exports.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey ge {"~due|"} and PartitionKey lt {"~due}"}")).ToListAsync();

    private static ExportRecord Record(DateOnly day, string target, int sequence, string status, DateTimeOffset nextAttempt) => new()
    {
        Tenant = "acme", Day = day, Target = target, Sequence = sequence, Customer = "cus_acme", EventName = "keybrake_spend",
        ValueCents = 1234, NetMicros = 12_340_000, Timestamp = nextAttempt, Status = status, NextAttemptAt = nextAttempt, RecordedAt = nextAttempt,
        SentAt = status == ExportStatus.Sent ? nextAttempt : null,
    };
}
