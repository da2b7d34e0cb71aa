using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using Keybrake.DevHost;
using Keybrake.Domain.Activity;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Reconciliation;
using Keybrake.Infrastructure.Storage;
using Keybrake.Sandbox;
using Keybrake.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Twilio.Clients;
using Twilio.Rest.Api.V2010.Account;
using Twilio.Types;

namespace Keybrake.Tests.Caps;

/// <summary>
/// The unsettled-row index on Azurite: invisible to every reader of the audit rows, and, for rows an older version wrote
/// without it (and without the activity index), rebuilt by <c>POST /v1/maintenance/backfill</c> through the nightly
/// queue, after which the reconciler and the nightly rollup find those rows again.
/// </summary>
public sealed class IndexBackfillTests : IAsyncLifetime
{
    private ProxyHost _proxy = null!;

    public async Task InitializeAsync() => _proxy = await ProxyHost.StartAsync(new Dictionary<string, string?> { ["Vendors:stripe:TimeoutSeconds"] = "1" });

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    private T Service<T>() where T : notnull => _proxy.Host.Services.GetRequiredService<T>();

    private TableClient Table(string name) => TestStorage.Service().GetTableClient(_proxy.Host.TablePrefix + name);

    [Fact]
    public async Task RowsWrittenWithoutTheIndexes_AreFoundAgainAfterTheBackfill_ByTheReconcilerAndTheRollup()
    {
        JsonElement sms = await _proxy.IssueKeyAsync("acme:notify-agent:sms:run-1", "twilio", "POST /2010-04-01/Accounts/*/Messages");
        JsonElement card = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-1", "stripe", "POST /v1/payment_intents");
        await SendSmsAsync(sms);
        string inDoubt = await _proxy.TimeOutAStripeChargeAsync(card, 900);
        Assert.Equal(HttpStatusCode.OK, (await _proxy.StripeChargeAsync(card, 1250)).StatusCode);
        DateOnly day = DateOnly.FromDateTime(_proxy.Host.Time.GetUtcNow().UtcDateTime);

        // Two rows not final (an SMS priced later, a charge in doubt) are indexed; nobody reading audit rows sees the entries.
        Assert.Equal(2, (await IndexEntriesAsync()).Count);
        using HttpClient root = _proxy.Host.Client();
        JsonElement audit = await Json.ReadAsync(await root.GetAsync("/v1/audit?tenant=acme"));
        Assert.Equal(3, audit.GetProperty("entries").GetArrayLength());
        Assert.DoesNotContain(audit.GetProperty("entries").EnumerateArray(), e => e.Str("id").StartsWith('~'));
        JsonElement consistency = await Json.ReadAsync(await root.GetAsync($"/v1/consistency?date={day:yyyy-MM-dd}"));
        Assert.Equal(0, consistency.GetProperty("drift_count").GetInt32());

        // As an older version left them: no unsettled index entries, no activity index.
        await DeleteAsync(Table("audit"), await IndexEntriesAsync());
        await DeleteAsync(Table("activity"), await Table("activity").QueryAsync<TableEntity>().ToListAsync());
        _proxy.Host.Time.Advance(TimeSpan.FromDays(1));
        _proxy.Vendors.Twilio.Options.PricePerSegmentUsd = 0.0079m;
        _proxy.Vendors.Twilio.SettleAll();
        Reconciler reconciler = Service<Reconciler>();
        Assert.Equal(new ReconcileReport(0, 0, 0, 0), await reconciler.RunAsync(CancellationToken.None));
        Assert.Empty(await Service<RollupService>().CatchUpAsync(day.AddDays(1), CancellationToken.None));

        HttpResponseMessage started = await root.PostAsJsonAsync("/v1/maintenance/backfill", new { days = 3 });
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        JsonElement plan = await Json.ReadAsync(started);
        Assert.Equal((day.AddDays(-1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), day.AddDays(1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), 1, 1),
            (plan.Str("from"), plan.Str("to"), plan.GetProperty("tenants").GetInt32(), plan.GetProperty("work_items").GetInt32()));
        Assert.Equal(1, await Service<QueuePoller>().DrainAsync(CancellationToken.None));
        Assert.Contains("3 tenant-days read, 1 with audit rows (in the activity index now), 2 unsettled rows indexed", _proxy.Host.Logs.All, StringComparison.Ordinal);
        Assert.Equal(2, (await IndexEntriesAsync()).Count);

        // The reconciler finds both again: the SMS settles at the vendor's price, the charge is resolved from Stripe.
        ReconcileReport found = await reconciler.RunAsync(CancellationToken.None);
        Assert.Equal((1, 1), (found.Settled, found.InDoubtResolved));
        Assert.Equal("forwarded", (await _proxy.AuditRowAsync(inDoubt)).GetString("Outcome"));
        Assert.Empty(await IndexEntriesAsync());

        // The nightly run rolls the day the activity index had lost, with the settled costs.
        Assert.Equal([new TenantDay("acme", day)], await Service<RollupService>().CatchUpAsync(day.AddDays(1), CancellationToken.None));
        JsonElement rollups = await Json.ReadAsync(await root.GetAsync($"/v1/rollups?date={day:yyyy-MM-dd}"));
        decimal rolled = rollups.GetProperty("rollups").EnumerateArray().Where(r => r.Str("level") == "tenant").Sum(r => r.GetProperty("cost_usd").GetDecimal());
        decimal rows = (await _proxy.AuditRowsAsync()).Sum(r => r.GetInt64("CostMicros") ?? 0) / 1_000_000m;
        Assert.Equal(rows, rolled);
        Assert.Equal(21.5m + 0.0158m, rolled);

        // Again: nothing left to index, and the rolled day stays rolled.
        Assert.Equal(HttpStatusCode.Accepted, (await root.PostAsJsonAsync("/v1/maintenance/backfill", new { days = 3 })).StatusCode);
        Assert.Equal(1, await Service<QueuePoller>().DrainAsync(CancellationToken.None));
        Assert.Contains("3 tenant-days read, 1 with audit rows (in the activity index now), 0 unsettled rows indexed", _proxy.Host.Logs.All, StringComparison.Ordinal);
        Assert.Empty(await Service<RollupService>().CatchUpAsync(day.AddDays(1), CancellationToken.None));
    }

    [Fact]
    public async Task ALegacyRowMadeFinal_WithNoIndexEntryToRemove_MovesOnce_AndTheBackfillThenLeavesItAlone()
    {
        JsonElement card = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-2", "stripe", "POST /v1/payment_intents");
        string inDoubt = await _proxy.TimeOutAStripeChargeAsync(card, 900);
        await DeleteAsync(Table("audit"), await IndexEntriesAsync());

        using HttpClient root = _proxy.Host.Client();
        Assert.Equal(HttpStatusCode.OK, (await root.PostAsJsonAsync($"/v1/audit/acme/{inDoubt}/resolve", new { charged = false })).StatusCode);

        Assert.Equal(("error", 0L), ((await _proxy.AuditRowAsync(inDoubt)).GetString("Outcome"), (await _proxy.AuditRowAsync(inDoubt)).GetInt64("HeldMicros")!.Value));
        Assert.Equal(HttpStatusCode.Accepted, (await root.PostAsJsonAsync("/v1/maintenance/backfill", new { days = 1 })).StatusCode);
        Assert.Equal(1, await Service<QueuePoller>().DrainAsync(CancellationToken.None));
        Assert.Empty(await IndexEntriesAsync());
        JsonElement consistency = await Json.ReadAsync(await root.GetAsync($"/v1/consistency?date={_proxy.Host.Time.GetUtcNow():yyyy-MM-dd}"));
        Assert.Equal(0, consistency.GetProperty("drift_count").GetInt32());
    }

    private async Task SendSmsAsync(JsonElement key)
    {
        var twilio = new TwilioRestClient("AC00000000000000000000000000000000", key.Str("key"),
            httpClient: new Twilio.Http.SystemNetHttpClient(BaseUrlRewriteHandler.CreateClient(_proxy.ProxyBase("twilio"))));
        await MessageResource.CreateAsync(new CreateMessageOptions(new PhoneNumber("+15145535858")) { From = new PhoneNumber("+15149002890"), Body = new string('a', 200) }, twilio);
    }

    private async Task<List<TableEntity>> IndexEntriesAsync() =>
        await Table("audit").QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"RowKey ge {AuditRowKeys.UnsettledPrefix} and RowKey lt {"~jopen}"}")).ToListAsync();

    private static async Task DeleteAsync(TableClient table, IEnumerable<TableEntity> rows)
    {
        foreach (TableEntity row in rows)
        {
            await table.DeleteEntityAsync(row.PartitionKey, row.RowKey, ETag.All);
        }
    }
}
