using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Azure.Data.Tables;
using Keybrake.Domain.Reconciliation;
using Keybrake.Sandbox;
using Keybrake.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Twilio.Clients;
using Twilio.Rest.Api.V2010.Account;
using Twilio.Types;

namespace Keybrake.Tests.Caps;

public sealed class ReconcilerTests : IAsyncLifetime
{
    private ProxyHost _proxy = null!;

    public async Task InitializeAsync() => _proxy = await ProxyHost.StartAsync(new Dictionary<string, string?> { ["Vendors:stripe:TimeoutSeconds"] = "1" });

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    private Reconciler Reconciler => _proxy.Host.Services.GetRequiredService<Reconciler>();

    [Fact]
    public async Task TwilioMessageEstimatedAtCreation_IsSettledToTheVendorsPrice_AndTheCapMovesByTheDifference()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:notify-agent:sms:run-1", "twilio", "POST /2010-04-01/Accounts/*/Messages");
        var twilio = new TwilioRestClient("AC00000000000000000000000000000000", key.Str("key"),
            httpClient: new Twilio.Http.SystemNetHttpClient(BaseUrlRewriteHandler.CreateClient(_proxy.ProxyBase("twilio"))));
        MessageResource message = await MessageResource.CreateAsync(
            new CreateMessageOptions(new PhoneNumber("+15145535858")) { From = new PhoneNumber("+15149002890"), Body = new string('a', 200) }, twilio);
        Assert.Equal(16_600, (await RowAsync()).GetInt64("CostMicros"));

        ReconcileReport beforeSettlement = await Reconciler.RunAsync(CancellationToken.None);
        _proxy.Vendors.Twilio.Options.PricePerSegmentUsd = 0.0079m;
        _proxy.Vendors.Twilio.SettleAll();
        ReconcileReport settlement = await Reconciler.RunAsync(CancellationToken.None);
        ReconcileReport rerun = await Reconciler.RunAsync(CancellationToken.None);

        Assert.Equal((0, 1), (beforeSettlement.Settled, beforeSettlement.StillEstimated));
        Assert.Equal(1, settlement.Settled);
        Assert.Equal((0, 0), (rerun.Settled, rerun.StillEstimated));
        TableEntity row = await RowAsync();
        Assert.Equal((15_800L, "settled"), (row.GetInt64("CostMicros")!.Value, row.GetString("CostSource")));
        Assert.Equal(message.Sid, row.GetString("VendorObjectId"));
        using HttpClient root = _proxy.Host.Client();
        JsonElement view = await Json.ReadAsync(await root.GetAsync($"/v1/keys/{key.Str("id")}"));
        Assert.Equal(0.0158m, view.GetProperty("spent_today_usd").GetDecimal());
    }

    [Fact]
    public async Task InDoubtStripeTimeout_IsResolvedByFindingTheTaggedPaymentIntent()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-2", "stripe", "POST /v1/payment_intents");
        await _proxy.TimeOutAStripeChargeAsync(key, 900);

        ReconcileReport tooEarly = await Reconciler.RunAsync(CancellationToken.None);
        _proxy.Host.Time.Advance(TimeSpan.FromMinutes(6));
        ReconcileReport resolved = await Reconciler.RunAsync(CancellationToken.None);
        ReconcileReport again = await Reconciler.RunAsync(CancellationToken.None);

        Assert.Equal((0, 1, 0), (tooEarly.InDoubtResolved, resolved.InDoubtResolved, again.InDoubtResolved));
        Assert.Contains("metadata[keybrake_ref]", _proxy.Vendors.Stripe.Ledger[0].Form.Keys);
        TableEntity row = await RowAsync();
        Assert.Equal(("forwarded", 9_000_000L, "settled"), (row.GetString("Outcome"), row.GetInt64("CostMicros")!.Value, row.GetString("CostSource")));
        Assert.Equal("resolved by reconciler: charged", row.GetString("Reason"));
        Assert.Equal(9m, await SpentTodayAsync(key));
    }

    [Fact]
    public async Task InDoubtStripeError_WithNothingCreated_IsReleased()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-5", "stripe", "POST /v1/payment_intents");
        _proxy.Vendors.Stripe.Options.FailWithStatus = 500;
        HttpResponseMessage response = await _proxy.StripeChargeAsync(key, 700);
        _proxy.Vendors.Stripe.Options.FailWithStatus = null;
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal(("in_doubt", 7_000_000L), ((await RowAsync()).GetString("Outcome"), (await RowAsync()).GetInt64("CostMicros")!.Value));

        _proxy.Host.Time.Advance(TimeSpan.FromMinutes(6));
        ReconcileReport report = await Reconciler.RunAsync(CancellationToken.None);

        Assert.Equal(1, report.InDoubtResolved);
        TableEntity row = await RowAsync();
        Assert.Equal(("error", 0L, "resolved by reconciler: not charged"), (row.GetString("Outcome"), row.GetInt64("CostMicros")!.Value, row.GetString("Reason")));
        Assert.Equal(0m, await SpentTodayAsync(key));
    }

    [Fact]
    public async Task InDoubtCallTheVendorCannotSearch_IsFlaggedOnceAndKeepsItsReservation()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:payouts:run-6", "stripe", "POST /v1/transfers");
        using HttpClient agent = _proxy.StripeAgent(key);
        HttpResponseMessage response = await _proxy.WhileStripeAnswersTooLateAsync(() => agent.PostAsync("v1/transfers", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["amount"] = "400", ["currency"] = "usd", ["destination"] = "acct_1",
        })));
        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);

        _proxy.Host.Time.Advance(TimeSpan.FromMinutes(6));
        ReconcileReport flagged = await Reconciler.RunAsync(CancellationToken.None);
        ReconcileReport again = await Reconciler.RunAsync(CancellationToken.None);

        Assert.Equal((1, 0), (flagged.InDoubtFlagged, again.InDoubtFlagged));
        TableEntity row = await RowAsync();
        Assert.Equal(("in_doubt", 4_000_000L), (row.GetString("Outcome"), row.GetInt64("CostMicros")!.Value));
        Assert.EndsWith(Reconciler.FlagSuffix, row.GetString("Reason"), StringComparison.Ordinal);
        Assert.Equal(4m, await SpentTodayAsync(key));
    }

    [Theory]
    [InlineData(false, null, 0, "error")]
    [InlineData(true, null, 9_000_000, "forwarded")]
    [InlineData(true, 8.5, 8_500_000, "forwarded")]
    public async Task InDoubtCall_IsResolvedByAnOperator_AndTheCapFollows(bool charged, double? costUsd, long expectedMicros, string outcome)
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-3", "stripe", "POST /v1/payment_intents");
        string auditId = await _proxy.TimeOutAStripeChargeAsync(key, 900);
        using HttpClient root = _proxy.Host.Client();

        HttpResponseMessage resolved = await root.PostAsJsonAsync($"/v1/audit/acme/{auditId}/resolve", new { charged, cost_usd = costUsd });
        HttpResponseMessage again = await root.PostAsJsonAsync($"/v1/audit/acme/{auditId}/resolve", new { charged });

        Assert.Equal(HttpStatusCode.OK, resolved.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        TableEntity row = await RowAsync();
        Assert.Equal((outcome, expectedMicros, "settled"), (row.GetString("Outcome"), row.GetInt64("CostMicros")!.Value, row.GetString("CostSource")));
        JsonElement view = await Json.ReadAsync(await root.GetAsync($"/v1/keys/{key.Str("id")}"));
        Assert.Equal(expectedMicros / 1_000_000m, view.GetProperty("spent_today_usd").GetDecimal());
    }

    [Fact]
    public async Task OperatorResolution_OfAnEarlierDay_UpdatesThatDaysRollup()
    {
        JsonElement key = await _proxy.Host.IssueKeyAsync("acme:billing-agent:checkout:run-4", "stripe", cap: 50m, endpoints: ["POST /v1/payment_intents"], ttl: "2d");
        string auditId = await _proxy.TimeOutAStripeChargeAsync(key, 900);
        using HttpClient root = _proxy.Host.Client();
        _proxy.Host.Time.Advance(TimeSpan.FromDays(1));
        await root.PostAsync("/v1/rollups/2026-11-02", null);
        Assert.Equal(9m, await RolledUpCostAsync(root));

        HttpResponseMessage resolved = await root.PostAsJsonAsync($"/v1/audit/acme/{auditId}/resolve", new { charged = true, cost_usd = 7.25 });

        Assert.Equal(HttpStatusCode.OK, resolved.StatusCode);
        Assert.Equal(7.25m, await RolledUpCostAsync(root));
    }

    private static async Task<decimal> RolledUpCostAsync(HttpClient root) =>
        (await Json.ReadAsync(await root.GetAsync("/v1/rollups?date=2026-11-02"))).GetProperty("rollups").EnumerateArray()
            .Single(r => r.Str("level") == "tenant").GetProperty("cost_usd").GetDecimal();

    [Fact]
    public async Task InDoubtRefund_IsResolvedAsANegativeCost_AndNeverFreesCap_AndAPositiveOrMissingAmountIsRefused()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:refunds:run-7", "stripe", "POST /v1/payment_intents", "POST /v1/refunds");
        HttpResponseMessage charge = await _proxy.StripeChargeAsync(key, 900);
        string paymentIntent = (await Json.ReadAsync(charge)).Str("id");
        using HttpClient agent = _proxy.StripeAgent(key);
        HttpResponseMessage timedOut = await _proxy.WhileStripeAnswersTooLateAsync(() => agent.PostAsync("v1/refunds", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["payment_intent"] = paymentIntent, ["amount"] = "500",
        })));
        Assert.Equal(HttpStatusCode.GatewayTimeout, timedOut.StatusCode);
        string refundId = timedOut.Headers.GetValues("X-Keybrake-Audit-Id").Single();
        using HttpClient root = _proxy.Host.Client();

        HttpResponseMessage positive = await root.PostAsJsonAsync($"/v1/audit/acme/{refundId}/resolve", new { charged = true, cost_usd = 5 });
        HttpResponseMessage missing = await root.PostAsJsonAsync($"/v1/audit/acme/{refundId}/resolve", new { charged = true });
        Assert.Equal(("in_doubt", 0L), ((await _proxy.AuditRowAsync(refundId)).GetString("Outcome"), (await _proxy.AuditRowAsync(refundId)).GetInt64("CostMicros")!.Value));
        HttpResponseMessage resolved = await root.PostAsJsonAsync($"/v1/audit/acme/{refundId}/resolve", new { charged = true, cost_usd = -5 });

        Assert.Equal((HttpStatusCode.BadRequest, HttpStatusCode.BadRequest, HttpStatusCode.OK), (positive.StatusCode, missing.StatusCode, resolved.StatusCode));
        TableEntity row = await _proxy.AuditRowAsync(refundId);
        Assert.Equal(("forwarded", -5_000_000L, "settled"), (row.GetString("Outcome"), row.GetInt64("CostMicros")!.Value, row.GetString("CostSource")));
        Assert.Equal(9m, await SpentTodayAsync(key));
    }

    [Fact]
    public async Task Resolve_IsScopedToTheTenantAndValidated()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-4", "stripe", "POST /v1/payment_intents");
        string auditId = await _proxy.TimeOutAStripeChargeAsync(key, 100);
        using HttpClient globex = _proxy.Host.Client(await _proxy.Host.IssueTenantTokenAsync("globex"));
        using HttpClient root = _proxy.Host.Client();

        Assert.Equal(HttpStatusCode.Forbidden, (await globex.PostAsJsonAsync($"/v1/audit/acme/{auditId}/resolve", new { charged = false })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await root.PostAsJsonAsync($"/v1/audit/globex/{auditId}/resolve", new { charged = false })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await root.PostAsJsonAsync("/v1/audit/acme/not-an-id/resolve", new { charged = false })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await root.PostAsJsonAsync($"/v1/audit/acme/{auditId}/resolve", new { charged = "yes" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await root.PostAsJsonAsync($"/v1/audit/acme/{auditId}/resolve", new { charged = false, cost_usd = 1 })).StatusCode);
        Assert.Equal("in_doubt", (await RowAsync()).GetString("Outcome"));
    }

    private async Task<decimal> SpentTodayAsync(JsonElement key)
    {
        using HttpClient root = _proxy.Host.Client();
        return (await Json.ReadAsync(await root.GetAsync($"/v1/keys/{key.Str("id")}"))).GetProperty("spent_today_usd").GetDecimal();
    }

    private async Task<TableEntity> RowAsync() => Assert.Single(await _proxy.AuditRowsAsync());
}
