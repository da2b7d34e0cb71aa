using System.Net;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Proxy;
using Keybrake.Domain.Work;
using Keybrake.Infrastructure.Storage;
using Keybrake.Sandbox;
using Keybrake.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Twilio.Clients;
using Twilio.Rest.Api.V2010.Account;
using Twilio.Types;

namespace Keybrake.Tests.Caps;

/// <summary>
/// The unsettled index under the backfill racing live moves: rows an older version wrote without entries are indexed
/// by backfill passes running at the same time as settlements and re-pricings of the same rows, in generated
/// interleavings. Whatever the order, afterwards a row has an entry exactly while it is not final, the entry is a copy
/// of the row, and the counters agree with the rows (a stale entry on a final row would send the reconciler to the
/// vendor every five minutes for nothing; a missing one would leave a row unsettled for good).
/// </summary>
public sealed class IndexBackfillRaceTests : IAsyncLifetime
{
    private const int Rows = 24;
    private ProxyHost _proxy = null!;

    public async Task InitializeAsync() => _proxy = await ProxyHost.StartAsync();

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    [Theory]
    [InlineData(20261130)]
    [InlineData(7)]
    [InlineData(1234567)]
    public async Task BackfillRacingMoves_LeavesAnEntryExactlyOnEveryRowNotFinal(int seed)
    {
        var random = new Random(seed);
        JsonElement key = await _proxy.IssueKeyAsync($"acme:notify-agent:sms:run-{seed}", "twilio", "POST /2010-04-01/Accounts/*/Messages");
        var twilio = new TwilioRestClient("AC00000000000000000000000000000000", key.Str("key"),
            httpClient: new Twilio.Http.SystemNetHttpClient(BaseUrlRewriteHandler.CreateClient(_proxy.ProxyBase("twilio"))));
        for (int i = 0; i < Rows; i++)
        {
            await MessageResource.CreateAsync(new CreateMessageOptions(new PhoneNumber("+15145535858")) { From = new PhoneNumber("+15149002890"), Body = "hello " + i }, twilio);
        }

        DateTimeOffset now = _proxy.Host.Time.GetUtcNow();
        TableClient audit = TestStorage.Service().GetTableClient(_proxy.Host.TablePrefix + "audit");
        string partition = AuditEntry.PartitionFor("acme", now);
        List<TableEntity> rows = [.. (await PartitionAsync(audit, partition)).Where(e => !e.RowKey.StartsWith('~') && AuditEntities.FromEntity(e).Unsettled)];
        Assert.Equal(Rows, rows.Count);

        // As an older version left them: no entries.
        foreach (TableEntity entry in (await PartitionAsync(audit, partition)).Where(e => e.RowKey.StartsWith(AuditRowKeys.UnsettledPrefix, StringComparison.Ordinal)))
        {
            await audit.DeleteEntityAsync(entry.PartitionKey, entry.RowKey, ETag.All);
        }

        // Each row gets a generated script: a re-pricing that keeps it unsettled, a settlement that makes it final, both,
        // or nothing; five backfill passes run beside them, each row's steps and each pass starting after a random delay.
        IReservationLedger ledger = _proxy.Host.Services.GetRequiredService<IReservationLedger>();
        IIndexBackfillStore backfill = _proxy.Host.Services.GetRequiredService<IIndexBackfillStore>();
        DateOnly day = DateOnly.FromDateTime(now.UtcDateTime);
        var work = new List<Task>();
        foreach (TableEntity row in rows)
        {
            int script = random.Next(4);
            int[] delays = [random.Next(0, 40), random.Next(0, 40)];
            work.Add(Task.Run(async () =>
            {
                await Task.Delay(delays[0]);
                if (script is 1 or 3)
                {
                    await ledger.TransitionAsync("acme", row.RowKey, current => current.Unsettled && current.Reason != "repriced"
                        ? (current with { Reason = "repriced", CostMicros = current.CostMicros + 1 }, current.HeldMicros)
                        : null, CancellationToken.None);
                }

                await Task.Delay(delays[1]);
                if (script is 2 or 3)
                {
                    await ledger.TransitionAsync("acme", row.RowKey, current => current.Unsettled
                        ? (current with { CostMicros = 7_900, CostSource = CostSource.Settled }, 7_900)
                        : null, CancellationToken.None);
                }
            }));
        }

        for (int pass = 0; pass < 5; pass++)
        {
            int delay = random.Next(0, 60);
            work.Add(Task.Run(async () =>
            {
                await Task.Delay(delay);
                await backfill.BackfillAsync("acme", day, CancellationToken.None);
            }));
        }

        await Task.WhenAll(work);

        // A pass after the race indexes whatever the racing passes could not see; then every row is as it should be.
        await backfill.BackfillAsync("acme", day, CancellationToken.None);
        List<TableEntity> after = await PartitionAsync(audit, partition);
        Dictionary<string, TableEntity> entries = after.Where(e => e.RowKey.StartsWith(AuditRowKeys.UnsettledPrefix, StringComparison.Ordinal)).ToDictionary(e => e.RowKey);
        int open = 0;
        foreach (AuditEntry row in after.Where(e => !e.RowKey.StartsWith('~')).Select(AuditEntities.FromEntity))
        {
            bool indexed = entries.Remove(AuditRowKeys.Unsettled(row.Id), out TableEntity? entry);
            Assert.True(row.Unsettled == indexed, $"{row.Id}: unsettled {row.Unsettled}, indexed {indexed}");
            if (entry is not null)
            {
                open++;
                AuditEntry copy = AuditEntities.FromEntity(entry);
                Assert.Equal((row.Outcome, row.CostSource, row.CostMicros, row.HeldMicros, row.Reason), (copy.Outcome, copy.CostSource, copy.CostMicros, copy.HeldMicros, copy.Reason));
            }
        }

        Assert.Empty(entries);
        Assert.Equal(open, (await ledger.UnsettledAsync("acme", now, now, CancellationToken.None)).Rows.Count);
        using HttpClient root = _proxy.Host.Client();
        HttpResponseMessage consistency = await root.GetAsync($"/v1/consistency?date={day:yyyy-MM-dd}");
        Assert.Equal(HttpStatusCode.OK, consistency.StatusCode);
        Assert.Equal(0, (await Json.ReadAsync(consistency)).GetProperty("drift_count").GetInt32());
    }

    private static async Task<List<TableEntity>> PartitionAsync(TableClient table, string partition) =>
        await table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {partition}")).ToListAsync();
}
