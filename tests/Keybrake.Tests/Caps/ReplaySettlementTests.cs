using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using Keybrake.Domain.Reconciliation;
using Keybrake.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Keybrake.Tests.Caps;

/// <summary>
/// Issue #18 items 2 and 7: an idempotent replay carries no reservation and is never settled as a charge, whether the
/// proxy knew it for one (its marker), only the vendor did (<c>Idempotent-Replayed</c>), or it came the next UTC day
/// within Stripe's 24 h window. The charge is counted once, on the first call.
/// </summary>
public sealed class ReplaySettlementTests : IAsyncLifetime
{
    private ProxyHost _proxy = null!;

    public async Task InitializeAsync() => _proxy = await ProxyHost.StartAsync(new Dictionary<string, string?> { ["Vendors:stripe:TimeoutSeconds"] = "1" });

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    private Reconciler Reconciler => _proxy.Host.Services.GetRequiredService<Reconciler>();

    [Fact]
    public async Task ReplayThatTimesOut_IsReleasedAtZeroByTheReconciler_NotSettledAtTheFirstCallsAmount()
    {
        JsonElement key = await IssueKeyAsync("acme:billing-agent:checkout:replay-1");
        Assert.Equal(HttpStatusCode.OK, (await ChargeAsync(key, 900, "order-1")).StatusCode);
        HttpResponseMessage retry = await _proxy.WhileStripeAnswersTooLateAsync(() => ChargeAsync(key, 900, "order-1"));
        Assert.Equal(HttpStatusCode.GatewayTimeout, retry.StatusCode);

        _proxy.Host.Time.Advance(TimeSpan.FromMinutes(6));
        ReconcileReport report = await Reconciler.RunAsync(CancellationToken.None);

        Assert.Equal(1, report.InDoubtResolved);
        TableEntity replay = await _proxy.AuditRowAsync(AuditId(retry));
        Assert.Equal(("error", 0L, true), (replay.GetString("Outcome"), replay.GetInt64("CostMicros")!.Value, replay.GetBoolean("Replay")!.Value));
        Assert.Equal(9_000_000L, (await _proxy.AuditRowsAsync()).Sum(r => r.GetInt64("CostMicros")!.Value));
        Assert.Equal(9_000_000L, await KeyCounterAsync(key, "2026-11-02"));
        Assert.Equal(1, _proxy.Vendors.Stripe.Ledger.Count(e => !e.Replayed));
    }

    [Fact]
    public async Task OperatorResolvingAReplay_RefusesCharged_AndReleasesItAtZero()
    {
        JsonElement key = await IssueKeyAsync("acme:billing-agent:checkout:replay-2");
        await ChargeAsync(key, 900, "order-2");
        string auditId = AuditId(await _proxy.WhileStripeAnswersTooLateAsync(() => ChargeAsync(key, 900, "order-2")));
        using HttpClient root = _proxy.Host.Client();

        HttpResponseMessage charged = await root.PostAsJsonAsync($"/v1/audit/acme/{auditId}/resolve", new { charged = true, cost_usd = 9 });
        HttpResponseMessage notCharged = await root.PostAsJsonAsync($"/v1/audit/acme/{auditId}/resolve", new { charged = false });

        Assert.Equal(HttpStatusCode.BadRequest, charged.StatusCode);
        Assert.Equal(HttpStatusCode.OK, notCharged.StatusCode);
        Assert.Equal(9_000_000L, (await _proxy.AuditRowsAsync()).Sum(r => r.GetInt64("CostMicros")!.Value));
        Assert.Equal(9_000_000L, await KeyCounterAsync(key, "2026-11-02"));
    }

    [Fact]
    public async Task RetryAfterMidnight_WithTheSameIdempotencyKey_IsAReplay_AndRecordsNoCharge()
    {
        JsonElement key = await IssueKeyAsync("acme:billing-agent:checkout:replay-3");
        _proxy.Host.Time.Advance(new DateTimeOffset(2026, 11, 2, 23, 59, 58, TimeSpan.Zero) - _proxy.Host.Time.GetUtcNow());
        Assert.Equal(HttpStatusCode.OK, (await ChargeAsync(key, 900, "order-3")).StatusCode);
        _proxy.Host.Time.Advance(TimeSpan.FromSeconds(3));

        HttpResponseMessage retry = await ChargeAsync(key, 900, "order-3");

        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.Equal("0.000000", retry.Headers.GetValues("X-Keybrake-Cost-Usd").Single());
        TableEntity replay = await _proxy.AuditRowAsync(AuditId(retry));
        Assert.Equal(("acme|2026-11-03", 0L, "idempotent_replay", true),
            (replay.PartitionKey, replay.GetInt64("CostMicros")!.Value, replay.GetString("Reason"), replay.GetBoolean("Replay")!.Value));
        Assert.Equal(0L, await KeyCounterAsync(key, "2026-11-03"));
        Assert.Equal(9_000_000L, (await _proxy.AuditRowsAsync()).Sum(r => r.GetInt64("CostMicros")!.Value));
    }

    [Fact]
    public async Task RetryAfterMidnightThatTimesOut_IsReleasedAtZeroByTheReconciler()
    {
        JsonElement key = await IssueKeyAsync("acme:billing-agent:checkout:replay-4");
        _proxy.Host.Time.Advance(new DateTimeOffset(2026, 11, 2, 23, 59, 58, TimeSpan.Zero) - _proxy.Host.Time.GetUtcNow());
        Assert.Equal(HttpStatusCode.OK, (await ChargeAsync(key, 900, "order-4")).StatusCode);
        _proxy.Host.Time.Advance(TimeSpan.FromSeconds(3));
        HttpResponseMessage retry = await _proxy.WhileStripeAnswersTooLateAsync(() => ChargeAsync(key, 900, "order-4"));
        Assert.Equal(HttpStatusCode.GatewayTimeout, retry.StatusCode);

        _proxy.Host.Time.Advance(TimeSpan.FromMinutes(6));
        ReconcileReport report = await Reconciler.RunAsync(CancellationToken.None);

        Assert.Equal(1, report.InDoubtResolved);
        TableEntity replay = await _proxy.AuditRowAsync(AuditId(retry));
        Assert.Equal(("error", 0L, true), (replay.GetString("Outcome"), replay.GetInt64("CostMicros")!.Value, replay.GetBoolean("Replay")!.Value));
        Assert.Equal(0L, await KeyCounterAsync(key, "2026-11-03"));
        Assert.Equal(9_000_000L, (await _proxy.AuditRowsAsync()).Sum(r => r.GetInt64("CostMicros")!.Value));
    }

    [Fact]
    public async Task RetryMoreThan24HoursLater_IsANewCall()
    {
        JsonElement key = await IssueKeyAsync("acme:billing-agent:checkout:replay-5");
        Assert.Equal(HttpStatusCode.OK, (await ChargeAsync(key, 900, "order-5")).StatusCode);
        _proxy.Host.Time.Advance(TimeSpan.FromHours(24) + TimeSpan.FromSeconds(1));
        HttpResponseMessage retry = await _proxy.WhileStripeAnswersTooLateAsync(() => ChargeAsync(key, 900, "order-5"));
        Assert.Equal(HttpStatusCode.GatewayTimeout, retry.StatusCode);

        _proxy.Host.Time.Advance(TimeSpan.FromMinutes(6));
        await Reconciler.RunAsync(CancellationToken.None);

        // Outside the window the reconciler looks the call up at the vendor like any other; it is not taken for a replay.
        TableEntity row = await _proxy.AuditRowAsync(AuditId(retry));
        Assert.Equal(("forwarded", null), (row.GetString("Outcome"), row.GetBoolean("Replay")));
    }

    private Task<JsonElement> IssueKeyAsync(string label) =>
        _proxy.Host.IssueKeyAsync(label, "stripe", cap: 50m, endpoints: ["POST /v1/payment_intents"], ttl: "3d");

    private async Task<HttpResponseMessage> ChargeAsync(JsonElement key, int amount, string idempotencyKey)
    {
        using HttpClient agent = _proxy.StripeAgent(key);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/payment_intents")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["amount"] = amount.ToString(System.Globalization.CultureInfo.InvariantCulture), ["currency"] = "usd", ["confirm"] = "true", ["payment_method"] = "pm_card_visa",
            }),
        };
        request.Headers.Add("Idempotency-Key", idempotencyKey);
        return await agent.SendAsync(request);
    }

    private static string AuditId(HttpResponseMessage response) => response.Headers.GetValues("X-Keybrake-Audit-Id").Single();

    private async Task<long> KeyCounterAsync(JsonElement key, string day)
    {
        TableClient table = TestStorage.Service().GetTableClient(_proxy.Host.TablePrefix + "audit");
        NullableResponse<TableEntity> counter = await table.GetEntityIfExistsAsync<TableEntity>("acme|" + day, "~cap|key|" + key.Str("id"));
        return counter.HasValue ? counter.Value!.GetInt64("UsedMicros")!.Value : 0;
    }
}
