using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Keybrake.Domain.Export;
using Keybrake.Domain.Reconciliation;
using Keybrake.Infrastructure.Http;
using Keybrake.Sandbox;
using Keybrake.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Twilio.Clients;
using Twilio.Rest.Api.V2010.Account;
using Twilio.Types;

namespace Keybrake.Tests.Export;

/// <summary>
/// The chargeback export end to end: traffic through the proxy to the fake vendors on 2026-11-02, the day
/// rolled up and exported after midnight to each fake meter, which must end up with exactly one event per
/// tenant-day (and one credit per change) whatever fails along the way.
/// </summary>
public sealed class ExportTests : IAsyncLifetime
{
    private static readonly DateOnly Day = new(2026, 11, 2);
    private readonly List<IAsyncDisposable> _disposables = [];

    public static TheoryData<string> Targets => new() { "stripe_meters", "lago", "openmeter" };

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (IAsyncDisposable disposable in Enumerable.Reverse(_disposables))
        {
            await disposable.DisposeAsync();
        }
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task OneEventPerTenantDay_WithTheNetInCents_SubCentSkipped_AndReRunsSendNothingMore(string target)
    {
        ProxyHost proxy = await StartAsync(target);
        await SpendOnDayAsync(proxy);
        proxy.Host.Time.Advance(TimeSpan.FromHours(15));

        JsonElement first = await RollUpAsync(proxy, Day);
        JsonElement again = await RollUpAsync(proxy, Day);

        Assert.Equal((target, "exported", 2, 1, 1, 2), (first.Str("target"), first.Str("state"), Int(first, "recorded"), Int(first, "skipped"), Int(first, "unmapped"), Int(first, "sent")));
        Assert.Equal((0, 0, 0), (Int(again, "recorded"), Int(again, "skipped"), Int(again, "sent")));
        List<Accepted> events = AcceptedEvents(proxy.Vendors, target);
        Assert.Equal(2, events.Count);
        long dayStart = new DateTimeOffset(2026, 11, 2, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds();
        Assert.Contains(new Accepted("acme-2026-11-02", Customer(target, "acme"), 1583, dayStart), events);
        Assert.Contains(new Accepted("globex-2026-11-02", Customer(target, "globex"), 4000, dayStart), events);
        Assert.Equal(2, MeterRequests(proxy.Vendors, target));

        JsonElement outbox = await ExportsAsync(proxy.Host.Client(), Day);
        JsonElement tiny = outbox.EnumerateArray().Single(r => r.Str("tenant") == "tiny");
        Assert.Equal(("skipped", 0L, 0.0009m), (tiny.Str("status"), tiny.GetProperty("value_cents").GetInt64(), tiny.GetProperty("net_usd").GetDecimal()));
        Assert.All(outbox.EnumerateArray().Where(r => r.Str("tenant") != "tiny"), r => Assert.Equal(("sent", 1, "day"), (r.Str("status"), Int(r, "attempts"), r.Str("kind"))));
        Assert.DoesNotContain(outbox.EnumerateArray(), r => r.Str("tenant") == "initech");
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task MeterFailsThenRecovers_RetriedWithBackoff_ExactlyOneEventPerTenantDay(string target)
    {
        ProxyHost proxy = await StartAsync(target);
        await SpendOnDayAsync(proxy);
        proxy.Host.Time.Advance(TimeSpan.FromHours(15));
        FakeVendorOptions meter = MeterOptions(proxy.Vendors, target);
        meter.FailNextRequests(3, 500);

        // A failure ends the pass (an outage costs one request per pass, not one per row); a failed row waits out its backoff.
        JsonElement run = await RollUpAsync(proxy, Day);
        ExportReport otherRow = await Exports(proxy).SendDueAsync(CancellationToken.None);
        ExportReport tooSoon = await Exports(proxy).SendDueAsync(CancellationToken.None);
        proxy.Host.Time.Advance(ExportService.Backoff(1));
        ExportReport third = await Exports(proxy).SendDueAsync(CancellationToken.None);
        proxy.Host.Time.Advance(ExportService.Backoff(2) - TimeSpan.FromSeconds(1));
        ExportReport onlyGlobexDue = await Exports(proxy).SendDueAsync(CancellationToken.None);
        proxy.Host.Time.Advance(TimeSpan.FromSeconds(1));
        ExportReport recovered = await Exports(proxy).SendDueAsync(CancellationToken.None);

        Assert.Equal((2, 0, 1), (Int(run, "recorded"), Int(run, "sent"), Int(run, "retrying")));
        Assert.Equal((0, 1), (otherRow.Sent, otherRow.Retrying));
        Assert.Equal((0, 0), (tooSoon.Sent, tooSoon.Retrying));
        Assert.Equal((0, 1), (third.Sent, third.Retrying));
        Assert.Equal((1, 0), (onlyGlobexDue.Sent, onlyGlobexDue.Retrying));
        Assert.Equal((1, 0), (recovered.Sent, recovered.Retrying));
        Assert.Equal([1583L, 4000L], AcceptedEvents(proxy.Vendors, target).Select(e => e.Value).Order());
        Assert.Equal(5, MeterRequests(proxy.Vendors, target));
        JsonElement acme = (await ExportsAsync(proxy.Host.Client(), Day)).EnumerateArray().Single(r => r.Str("tenant") == "acme");
        Assert.Equal(("sent", 3), (acme.Str("status"), Int(acme, "attempts")));
        Assert.StartsWith("HTTP 500", acme.Str("last_error"), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task AMeterDownForADay_IsNeverRetriedPastItsDuplicateWindow_TheRowsAreHeldForAnOperator(string target)
    {
        ProxyHost proxy = await StartAsync(target);
        await SpendOnDayAsync(proxy);
        proxy.Host.Time.Advance(TimeSpan.FromHours(15));
        MeterOptions(proxy.Vendors, target).FailNextRequests(1000, 503);
        DateTimeOffset recorded = proxy.Host.Time.GetUtcNow();
        await RollUpAsync(proxy, Day);

        // An hourly sender for two days: every attempt lands inside the window in which the meter would recognise a
        // resend of an event whose answer was lost; after that the rows wait for an operator instead.
        int held = 0;
        for (int hour = 0; hour < 48; hour++)
        {
            proxy.Host.Time.Advance(TimeSpan.FromHours(1));
            int before = MeterRequests(proxy.Vendors, target);
            ExportReport pass = await Exports(proxy).SendDueAsync(CancellationToken.None);
            held += pass.Held;
            bool sentNow = MeterRequests(proxy.Vendors, target) > before;
            Assert.False(sentNow && proxy.Host.Time.GetUtcNow() >= recorded + TimeSpan.FromHours(24), $"an attempt at {proxy.Host.Time.GetUtcNow():O}, a day after the event was recorded");
        }

        Assert.Equal(2, held);
        JsonElement outbox = await ExportsAsync(proxy.Host.Client(), Day);
        Assert.All(outbox.EnumerateArray().Where(r => r.Str("status") != "skipped"), r =>
        {
            Assert.Equal("held", r.Str("status"));
            Assert.Contains("duplicate window", r.Str("last_error"), StringComparison.Ordinal);
        });

        // A held row is neither sent again nor owed again as an adjustment by a later run.
        MeterOptions(proxy.Vendors, target).FailNextRequests(0, 503);
        int requests = MeterRequests(proxy.Vendors, target);
        Assert.Equal(0, Int(await RollUpAsync(proxy, Day), "recorded"));
        Assert.Equal(new ExportReport("exported"), await Exports(proxy).SendDueAsync(CancellationToken.None));
        Assert.Equal(requests, MeterRequests(proxy.Vendors, target));
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task KilledAfterRecordingBeforeSending_TheRestartedRunSendsEachEventOnce(string target)
    {
        var kill = KillSwitch.BeforeSend;
        ProxyHost proxy = await StartAsync(target, kill);
        await SpendOnDayAsync(proxy);
        proxy.Host.Time.Advance(TimeSpan.FromHours(15));

        await RollUpOnlyAsync(proxy);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Exports(proxy).RunAsync(Day, kill.Token));
        Assert.Equal(0, MeterRequests(proxy.Vendors, target));
        Assert.All((await ExportsAsync(proxy.Host.Client(), Day)).EnumerateArray().Where(r => r.Str("tenant") != "tiny"), r => Assert.Equal("pending", r.Str("status")));

        KeybrakeHost restarted = await RestartAsync(proxy, target);
        JsonElement rerun = await RollUpAsync(restarted, Day);

        Assert.True((Int(rerun, "recorded"), Int(rerun, "sent")) == (0, 2), $"{rerun} {await ExportsAsync(restarted.Client(), Day)}");
        Assert.Equal([1583L, 4000L], AcceptedEvents(proxy.Vendors, target).Select(e => e.Value).Order());
        Assert.Equal(2, MeterRequests(proxy.Vendors, target));
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task KilledAfterSendingBeforeMarkingSent_TheResendIsTheMetersDuplicate_AndCountsAsSent(string target)
    {
        var kill = KillSwitch.AfterSend;
        ProxyHost proxy = await StartAsync(target, kill);
        await SpendOnDayAsync(proxy);
        proxy.Host.Time.Advance(TimeSpan.FromHours(15));

        await RollUpOnlyAsync(proxy);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Exports(proxy).RunAsync(Day, kill.Token));
        Assert.Single(AcceptedEvents(proxy.Vendors, target));

        KeybrakeHost restarted = await RestartAsync(proxy, target);
        JsonElement rerun = await RollUpAsync(restarted, Day);

        Assert.Equal((0, 2), (Int(rerun, "recorded"), Int(rerun, "sent")));
        Assert.Equal([1583L, 4000L], AcceptedEvents(proxy.Vendors, target).Select(e => e.Value).Order());
        Assert.Equal(3, MeterRequests(proxy.Vendors, target));
        JsonElement outbox = await ExportsAsync(restarted.Client(), Day);
        Assert.Equal(2, outbox.EnumerateArray().Count(r => r.Str("status") == "sent"));

        // Stripe and Lago say "already have it"; OpenMeter answers 204 and drops the repeat without saying so.
        Assert.Equal(target == "openmeter" ? 0 : 1, outbox.EnumerateArray().Count(r => r.GetProperty("duplicate").GetBoolean()));
        Assert.Equal(target == "openmeter" ? 1 : 0, proxy.Vendors.OpenMeter.DroppedDuplicates);
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task RefundsAfterExport_GoOutAsOneCreditEach_NeverByRewritingTheClosedDay(string target)
    {
        ProxyHost proxy = await StartAsync(target);
        await MapAsync(proxy, "acme");
        JsonElement billingKey = await proxy.Host.IssueKeyAsync("acme:billing-agent:checkout:run-1", "stripe", 500m, ttl: "7d");
        JsonElement smsKey = await proxy.Host.IssueKeyAsync("acme:notify-agent:sms:run-2", "twilio", 50m, ["POST /2010-04-01/Accounts/*/Messages"], "7d");
        string charge = await ChargeAsync(proxy, billingKey, 2000);
        await SmsAsync(proxy, smsKey, new string('a', 153 * 10));

        proxy.Host.Time.Advance(TimeSpan.FromHours(15));
        JsonElement closed = await RollUpAsync(proxy, Day);
        Assert.Equal(1, Int(closed, "sent"));

        // Day 2: a refund of day 1's charge, and the SMS of day 1 settles far below its estimate.
        await RefundAsync(proxy, billingKey, charge, 500);
        proxy.Vendors.Twilio.Options.PricePerSegmentUsd = 0.0001m;
        proxy.Vendors.Twilio.SettleAll();
        Assert.Equal(1, (await proxy.Host.Services.GetRequiredService<Reconciler>().RunAsync(CancellationToken.None)).Settled);
        proxy.Host.Time.Advance(TimeSpan.FromDays(1));
        JsonElement nextDay = await RollUpAsync(proxy, Day.AddDays(1));
        JsonElement reRolled = await RollUpAsync(proxy, Day);
        JsonElement reRolledAgain = await RollUpAsync(proxy, Day);

        Assert.Equal((1, 1), (Int(nextDay, "recorded"), Int(nextDay, "sent")));
        Assert.Equal((1, 1), (Int(reRolled, "recorded"), Int(reRolled, "sent")));
        Assert.Equal((0, 0), (Int(reRolledAgain, "recorded"), Int(reRolledAgain, "sent")));
        long now = proxy.Host.Time.GetUtcNow().ToUnixTimeSeconds();
        List<Accepted> events = AcceptedEvents(proxy.Vendors, target);
        Assert.Equal(
            [
                new Accepted("acme-2026-11-02", Customer(target, "acme"), 2008, new DateTimeOffset(2026, 11, 2, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds()),
                new Accepted("acme-2026-11-03", Customer(target, "acme"), -500, new DateTimeOffset(2026, 11, 3, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds()),
                new Accepted("acme-2026-11-02-adj-1", Customer(target, "acme"), -8, now),
            ],
            events);
        JsonElement adjustment = (await ExportsAsync(proxy.Host.Client(), Day)).EnumerateArray().Single(r => r.Str("kind") == "adjustment");
        Assert.Equal((20.001m, "sent"), (adjustment.GetProperty("net_usd").GetDecimal(), adjustment.Str("status")));
    }

    [Fact]
    public async Task RejectedEvents_AreNotRetried_AndTheNextRunSendsWhatIsStillOwedAsAnAdjustment()
    {
        ProxyHost proxy = await StartAsync("stripe_meters");
        await SpendOnDayAsync(proxy);
        proxy.Host.Time.Advance(TimeSpan.FromHours(15));
        proxy.Vendors.Stripe.Options.FailNextRequests(1, 400);

        JsonElement run = await RollUpAsync(proxy, Day);
        proxy.Host.Time.Advance(TimeSpan.FromDays(1));
        ExportReport later = await Exports(proxy).SendDueAsync(CancellationToken.None);
        JsonElement fixedUp = await RollUpAsync(proxy, Day);

        Assert.Equal((1, 1), (Int(run, "rejected"), Int(run, "sent")));
        Assert.Equal(0, later.Sent + later.Retrying + later.Rejected);
        Assert.Equal((1, 1), (Int(fixedUp, "recorded"), Int(fixedUp, "sent")));
        JsonElement rejected = Assert.Single((await ExportsAsync(proxy.Host.Client(), Day)).EnumerateArray(), r => r.Str("status") == "rejected");
        Assert.Equal(("acme-2026-11-02", 1, "HTTP 400 invalid_request_error"), (rejected.Str("id"), Int(rejected, "attempts"), rejected.Str("last_error")));
        Assert.Equal(["globex-2026-11-02", "acme-2026-11-02-adj-1"], AcceptedEvents(proxy.Vendors, "stripe_meters").Select(e => e.Id));
        Assert.Equal(1583, AcceptedEvents(proxy.Vendors, "stripe_meters")[1].Value);
        Assert.Equal(3, MeterRequests(proxy.Vendors, "stripe_meters"));
    }

    [Fact]
    public async Task NothingIsExported_WithTargetNone_OrForADayThatIsNotOver()
    {
        FakeVendors vendors = await FakeVendors.StartAsync();
        ProxyHost proxy = await ProxyHost.StartAsync(vendors: vendors);
        _disposables.Add(proxy);
        await SpendOnDayAsync(proxy);

        await AssertDayNotOverAsync(proxy, Day);
        proxy.Host.Time.Advance(TimeSpan.FromHours(15));
        JsonElement disabled = await RollUpAsync(proxy, Day);

        Assert.Equal(("none", "disabled"), (disabled.Str("target"), disabled.Str("state")));
        Assert.Empty(vendors.Stripe.MeterEvents);
        Assert.Empty((await ExportsAsync(proxy.Host.Client(), Day)).EnumerateArray());
    }

    [Fact]
    public async Task AnOpenDay_IsNotExported_AndTenantTokensSeeOnlyTheirOwnOutbox()
    {
        ProxyHost proxy = await StartAsync("lago");
        await SpendOnDayAsync(proxy);

        await AssertDayNotOverAsync(proxy, Day);
        Assert.Empty((await ExportsAsync(proxy.Host.Client(), Day)).EnumerateArray());
        proxy.Host.Time.Advance(TimeSpan.FromHours(15));
        await RollUpAsync(proxy, Day);
        using HttpClient acme = proxy.Host.Client(await proxy.Host.IssueTenantTokenAsync("acme"));

        JsonElement own = await ExportsAsync(acme, Day);
        Assert.Equal("acme", Assert.Single(own.EnumerateArray()).Str("tenant"));
        Assert.Equal(HttpStatusCode.Forbidden, (await acme.PostAsync("/v1/rollups/2026-11-02", null)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await acme.GetAsync("/v1/exports?date=tomorrow")).StatusCode);
    }

    [Fact]
    public async Task TheMeterKey_NeverReachesLogsRowsOrResponses()
    {
        ProxyHost proxy = await StartAsync("lago");
        await SpendOnDayAsync(proxy);
        proxy.Host.Time.Advance(TimeSpan.FromHours(15));
        proxy.Vendors.Lago.Options.FailNextRequests(1, 401);

        string body = (await RollUpAsync(proxy, Day)).ToString() + (await ExportsAsync(proxy.Host.Client(), Day)).ToString();
        proxy.Host.Time.Advance(TimeSpan.FromHours(1));
        await Exports(proxy).SendDueAsync(CancellationToken.None);

        string key = proxy.Vendors.Lago.ApiKey;
        Assert.Equal("Bearer " + key, proxy.Vendors.Lago.Ledger[0].Authorization);
        Assert.DoesNotContain(key, body, StringComparison.Ordinal);
        Assert.DoesNotContain(key, proxy.Host.Logs.All, StringComparison.Ordinal);
        List<Azure.Data.Tables.TableEntity> rows = await TestStorage.AllEntitiesAsync(proxy.Host.TablePrefix);
        Assert.DoesNotContain(rows, r => r.Any(p => p.Value?.ToString()?.Contains(key, StringComparison.Ordinal) == true));
        Assert.Equal(2, proxy.Vendors.Lago.Events.Count);
    }

    [Fact]
    public async Task SentRows_AreDeletedOnceTheDayIsPastTheRetention_AndTheDayIsNeverExportedAgain()
    {
        ProxyHost proxy = await StartAsync("stripe_meters");
        await SpendOnDayAsync(proxy);
        proxy.Host.Time.Advance(TimeSpan.FromHours(15));
        await RollUpAsync(proxy, Day);
        ExportService exports = Exports(proxy);

        // Day + 40 (the last day the export still records for it): nothing is deleted, and a change would still be exported.
        proxy.Host.Time.SetUtcNow(new DateTimeOffset(Day.AddDays(ExportService.RetentionDays).ToDateTime(new TimeOnly(1, 0)), TimeSpan.Zero));
        Assert.Empty(await exports.PurgeDueAsync(CancellationToken.None));
        Assert.Equal(0, await exports.PurgeAsync("acme", Day, CancellationToken.None));
        Assert.Equal(0, (await exports.RecordAsync("acme", Day, CancellationToken.None)).Expired);

        // A day later the day is closed to the export; a day after that, the nightly purge finds its tenants in the activity index.
        proxy.Host.Time.Advance(TimeSpan.FromDays(1));
        Assert.Equal(1, (await exports.RecordAsync("acme", Day, CancellationToken.None)).Expired);
        Assert.Empty(await exports.PurgeDueAsync(CancellationToken.None));
        Assert.Equal(0, await exports.PurgeAsync("acme", Day, CancellationToken.None));
        proxy.Host.Time.Advance(TimeSpan.FromDays(1));
        Assert.Equal(["acme", "globex", "initech", "tiny"], (await exports.PurgeDueAsync(CancellationToken.None)).Select(t => t.Tenant).Order(StringComparer.Ordinal));
        int[] deleted = await Task.WhenAll(new[] { "acme", "globex", "initech", "tiny" }.Select(t => exports.PurgeAsync(t, Day, CancellationToken.None)));

        // acme's and globex's sent events and tiny's skipped sub-cent day; initech never had a customer, so no row.
        Assert.Equal([1, 1, 0, 1], deleted);
        Assert.Equal(0, (await ExportsAsync(proxy.Host.Client(), Day)).GetArrayLength());
        Assert.Equal(0, await exports.PurgeAsync("acme", Day, CancellationToken.None));

        // With its rows gone the day is not taken for one never exported: nothing is recorded or sent for it again.
        JsonElement rerun = await RollUpAsync(proxy, Day);
        Assert.Equal((0, 0, 0), (Int(rerun, "recorded"), Int(rerun, "skipped"), Int(rerun, "sent")));
        Assert.Equal(0, (await ExportsAsync(proxy.Host.Client(), Day)).GetArrayLength());
        Assert.Equal(2, AcceptedEvents(proxy.Vendors, "stripe_meters").Count);
    }

    private async Task<ProxyHost> StartAsync(string target, KillSwitch? kill = null)
    {
        FakeVendors vendors = await FakeVendors.StartAsync();
        ProxyHost proxy = await ProxyHost.StartAsync(new Dictionary<string, string?>(vendors.ExportConfiguration(target)), vendors, kill is null ? null : kill.Install);
        _disposables.Add(proxy);
        vendors.UseClock(proxy.Host.Time);
        return proxy;
    }

    private async Task<KeybrakeHost> RestartAsync(ProxyHost proxy, string target)
    {
        var settings = new Dictionary<string, string?>(proxy.Vendors.ProxyConfiguration());
        foreach ((string key, string? value) in proxy.Vendors.ExportConfiguration(target))
        {
            settings[key] = value;
        }

        KeybrakeHost restarted = await KeybrakeHost.StartAsync(settings, proxy.Host.TablePrefix);
        _disposables.Add(restarted);
        restarted.Time.SetUtcNow(proxy.Host.Time.GetUtcNow());
        proxy.Vendors.UseClock(restarted.Time);

        return restarted;
    }

    /// <summary>
    /// 2026-11-02: acme spends $12.50 + $3.33 with Stripe ($15.83), globex $40, tiny one email ($0.0009, sub-cent),
    /// initech $1 but has no billing customer.
    /// </summary>
    private static async Task SpendOnDayAsync(ProxyHost proxy)
    {
        foreach (string tenant in new[] { "acme", "globex", "tiny" })
        {
            await MapAsync(proxy, tenant);
        }

        JsonElement acme = await proxy.Host.IssueKeyAsync("acme:billing-agent:checkout:run-1", "stripe", 500m, ttl: "7d");
        JsonElement globex = await proxy.Host.IssueKeyAsync("globex:billing-agent:checkout:run-2", "stripe", 500m, ttl: "7d");
        JsonElement initech = await proxy.Host.IssueKeyAsync("initech:billing-agent", "stripe", 500m, ttl: "7d");
        JsonElement tiny = await proxy.Host.IssueKeyAsync("tiny:notify-agent", "resend", 5m, ["POST /emails"], "7d");
        await ChargeAsync(proxy, acme, 1250);
        await ChargeAsync(proxy, acme, 333);
        await ChargeAsync(proxy, globex, 4000);
        await ChargeAsync(proxy, initech, 100);
        using HttpClient agent = Agent(proxy, tiny, "resend");
        HttpResponseMessage email = await agent.PostAsync("emails", new StringContent("""{"from":"a@x.io","to":"b@x.io","subject":"s","text":"t"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, email.StatusCode);
    }

    private static async Task MapAsync(ProxyHost proxy, string tenant)
    {
        using HttpClient root = proxy.Host.Client();
        HttpResponseMessage response = await root.PutAsJsonAsync($"/v1/tenants/{tenant}/billing", new
        {
            stripe_customer_id = Customer("stripe_meters", tenant),
            lago_external_subscription_id = Customer("lago", tenant),
            openmeter_subject = Customer("openmeter", tenant),
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static string Customer(string target, string tenant) => target switch
    {
        "stripe_meters" => "cus_" + tenant,
        "lago" => "sub-" + tenant,
        _ => "customer:" + tenant,
    };

    private static Task<JsonElement> RollUpAsync(ProxyHost proxy, DateOnly day) => RollUpAsync(proxy.Host, day);

    /// <summary>A day still under way is neither rolled up nor exported (issue #18 item 6).</summary>
    private static async Task AssertDayNotOverAsync(ProxyHost proxy, DateOnly day)
    {
        using HttpClient root = proxy.Host.Client();
        HttpResponseMessage response = await root.PostAsync($"/v1/rollups/{day:yyyy-MM-dd}", null);
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("day_not_over", (await Json.ReadAsync(response)).GetProperty("error").Str("code"));
    }

    private static async Task<JsonElement> RollUpAsync(KeybrakeHost host, DateOnly day)
    {
        using HttpClient root = host.Client();
        HttpResponseMessage response = await root.PostAsync($"/v1/rollups/{day:yyyy-MM-dd}", null);
        JsonElement body = await Json.ReadAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.OK, body.ToString());
        return body.GetProperty("export");
    }

    private static async Task<JsonElement> ExportsAsync(HttpClient client, DateOnly day)
    {
        HttpResponseMessage response = await client.GetAsync($"/v1/exports?date={day:yyyy-MM-dd}");
        JsonElement body = await Json.ReadAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.OK, body.ToString());

        // The API's one time format (UTC, Z), also for the outbox's DateTimeOffset fields.
        Assert.All(body.GetProperty("exports").EnumerateArray(), r => Assert.EndsWith("Z", r.Str("recorded_at"), StringComparison.Ordinal));
        return body.GetProperty("exports");
    }

    private static ExportService Exports(ProxyHost proxy) => Exports(proxy.Host);

    private static Task<int> RollUpOnlyAsync(ProxyHost proxy) =>
        proxy.Host.Services.GetRequiredService<Keybrake.Domain.Audit.RollupService>().RunAsync(Day, CancellationToken.None);

    private static ExportService Exports(KeybrakeHost host) => host.Services.GetRequiredService<ExportService>();

    private static int Int(JsonElement element, string name) => element.GetProperty(name).GetInt32();

    private sealed record Accepted(string Id, string Customer, long Value, long Timestamp);

    /// <summary>The events the meter took (duplicates it refused or dropped are not here), in arrival order.</summary>
    private static List<Accepted> AcceptedEvents(FakeVendors vendors, string target) => target switch
    {
        "stripe_meters" => [.. vendors.Stripe.MeterEvents.Select(e => new Accepted(e.Identifier, e.Payload["stripe_customer_id"], long.Parse(e.Payload["value"], CultureInfo.InvariantCulture), e.Timestamp))],
        "lago" => [.. vendors.Lago.Events.Select(e => new Accepted(e.TransactionId, e.ExternalSubscriptionId, (long)e.Properties["value"]!, e.Timestamp))],
        _ => [.. vendors.OpenMeter.Events.Select(e => new Accepted(e.Id, e.Subject, (long)e.Data!["value"]!, e.Time.ToUnixTimeSeconds()))],
    };

    private static int MeterRequests(FakeVendors vendors, string target) => target switch
    {
        "stripe_meters" => vendors.Stripe.Ledger.Count(e => e.Path == "/v1/billing/meter_events"),
        "lago" => vendors.Lago.Ledger.Count,
        _ => vendors.OpenMeter.Ledger.Count,
    };

    private static FakeVendorOptions MeterOptions(FakeVendors vendors, string target) => target switch
    {
        "stripe_meters" => vendors.Stripe.Options,
        "lago" => vendors.Lago.Options,
        _ => vendors.OpenMeter.Options,
    };

    private static async Task<string> ChargeAsync(ProxyHost proxy, JsonElement key, int amount)
    {
        using HttpClient agent = Agent(proxy, key, "stripe");
        HttpResponseMessage response = await agent.PostAsync("v1/payment_intents", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["amount"] = amount.ToString(CultureInfo.InvariantCulture), ["currency"] = "usd", ["confirm"] = "true", ["payment_method"] = "pm_card_visa",
        }));
        JsonElement body = await Json.ReadAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.OK, body.ToString());
        return body.Str("id");
    }

    private static async Task RefundAsync(ProxyHost proxy, JsonElement key, string paymentIntent, int amount)
    {
        using HttpClient agent = Agent(proxy, key, "stripe");
        HttpResponseMessage response = await agent.PostAsync("v1/refunds", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["payment_intent"] = paymentIntent, ["amount"] = amount.ToString(CultureInfo.InvariantCulture),
        }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static async Task SmsAsync(ProxyHost proxy, JsonElement key, string text)
    {
        var twilio = new TwilioRestClient("AC00000000000000000000000000000000", key.Str("key"),
            httpClient: new Twilio.Http.SystemNetHttpClient(BaseUrlRewriteHandler.CreateClient(proxy.ProxyBase("twilio"))));
        await MessageResource.CreateAsync(new CreateMessageOptions(new PhoneNumber("+15145535858")) { From = new PhoneNumber("+15149002890"), Body = text }, twilio);
    }

    private static HttpClient Agent(ProxyHost proxy, JsonElement key, string vendor)
    {
        var client = new HttpClient { BaseAddress = proxy.ProxyBase(vendor) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key.Str("key"));
        return client;
    }

    /// <summary>
    /// Stands in for the process dying mid-export: on the first meter request it cancels the run's token,
    /// either before the request leaves (the outbox row is recorded, nothing sent) or after the meter
    /// answered (sent, but never marked sent).
    /// </summary>
    private sealed class KillSwitch(bool afterSend)
    {
        private readonly CancellationTokenSource _run = new();
        private int _fired;

        private bool IsAfterSend { get; } = afterSend;

        public static KillSwitch BeforeSend => new(afterSend: false);

        public static KillSwitch AfterSend => new(afterSend: true);

        public CancellationToken Token => _run.Token;

        public void Install(IServiceCollection services) =>
            services.AddHttpClient(HttpMeterSender.HttpClientName).AddHttpMessageHandler(() => new Handler(this));

        private async Task KillAsync()
        {
            await _run.CancelAsync();
            _run.Token.ThrowIfCancellationRequested();
        }

        private sealed class Handler(KillSwitch kill) : DelegatingHandler
        {
            protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
            {
                bool first = Interlocked.Exchange(ref kill._fired, 1) == 0;
                if (first && !kill.IsAfterSend)
                {
                    await kill.KillAsync();
                }

                HttpResponseMessage response = await base.SendAsync(request, cancellationToken);
                if (first && kill.IsAfterSend)
                {
                    response.Dispose();
                    await kill.KillAsync();
                }

                return response;
            }
        }
    }
}
