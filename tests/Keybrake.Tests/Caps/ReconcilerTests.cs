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
    public async Task InDoubtTimeout_IsFlaggedOnceAndKeepsItsReservation()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-2", "stripe", "POST /v1/payment_intents");
        _proxy.Vendors.Stripe.Options.ResponseDelay = TimeSpan.FromSeconds(5);
        using var agent = new HttpClient { BaseAddress = _proxy.ProxyBase("stripe") };
        agent.DefaultRequestHeaders.Authorization = new("Bearer", key.Str("key"));
        HttpResponseMessage response = await agent.PostAsync("v1/payment_intents", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["amount"] = "900", ["currency"] = "usd", ["confirm"] = "true", ["payment_method"] = "pm_card_visa",
        }));
        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);

        ReconcileReport tooEarly = await Reconciler.RunAsync(CancellationToken.None);
        _proxy.Host.Time.Advance(TimeSpan.FromMinutes(6));
        ReconcileReport flagged = await Reconciler.RunAsync(CancellationToken.None);
        ReconcileReport again = await Reconciler.RunAsync(CancellationToken.None);

        Assert.Equal((0, 1, 0), (tooEarly.InDoubtFlagged, flagged.InDoubtFlagged, again.InDoubtFlagged));
        TableEntity row = await RowAsync();
        Assert.Equal(("in_doubt", 9_000_000L), (row.GetString("Outcome"), row.GetInt64("CostMicros")!.Value));
        Assert.EndsWith(Reconciler.FlagSuffix, row.GetString("Reason"), StringComparison.Ordinal);
        using HttpClient root = _proxy.Host.Client();
        Assert.Equal(9m, (await Json.ReadAsync(await root.GetAsync($"/v1/keys/{key.Str("id")}"))).GetProperty("spent_today_usd").GetDecimal());
    }

    [Theory]
    [InlineData(false, null, 0, "error")]
    [InlineData(true, null, 9_000_000, "forwarded")]
    [InlineData(true, 8.5, 8_500_000, "forwarded")]
    public async Task InDoubtCall_IsResolvedByAnOperator_AndTheCapFollows(bool charged, double? costUsd, long expectedMicros, string outcome)
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-3", "stripe", "POST /v1/payment_intents");
        string auditId = await TimeOutAChargeAsync(key, 900);
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
    public async Task Resolve_IsScopedToTheTenantAndValidated()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-4", "stripe", "POST /v1/payment_intents");
        string auditId = await TimeOutAChargeAsync(key, 100);
        using HttpClient globex = _proxy.Host.Client(await _proxy.Host.IssueTenantTokenAsync("globex"));
        using HttpClient root = _proxy.Host.Client();

        Assert.Equal(HttpStatusCode.Forbidden, (await globex.PostAsJsonAsync($"/v1/audit/acme/{auditId}/resolve", new { charged = false })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await root.PostAsJsonAsync($"/v1/audit/globex/{auditId}/resolve", new { charged = false })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await root.PostAsJsonAsync("/v1/audit/acme/not-an-id/resolve", new { charged = false })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await root.PostAsJsonAsync($"/v1/audit/acme/{auditId}/resolve", new { charged = "yes" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await root.PostAsJsonAsync($"/v1/audit/acme/{auditId}/resolve", new { charged = false, cost_usd = 1 })).StatusCode);
        Assert.Equal("in_doubt", (await RowAsync()).GetString("Outcome"));
    }

    private async Task<string> TimeOutAChargeAsync(JsonElement key, int amount)
    {
        _proxy.Vendors.Stripe.Options.ResponseDelay = TimeSpan.FromSeconds(5);
        using var agent = new HttpClient { BaseAddress = _proxy.ProxyBase("stripe") };
        agent.DefaultRequestHeaders.Authorization = new("Bearer", key.Str("key"));
        HttpResponseMessage response = await agent.PostAsync("v1/payment_intents", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["amount"] = amount.ToString(System.Globalization.CultureInfo.InvariantCulture), ["currency"] = "usd", ["confirm"] = "true", ["payment_method"] = "pm_card_visa",
        }));
        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        _proxy.Vendors.Stripe.Options.ResponseDelay = TimeSpan.Zero;
        return response.Headers.GetValues("X-Keybrake-Audit-Id").Single();
    }

    private async Task<TableEntity> RowAsync() => Assert.Single(await _proxy.AuditRowsAsync());
}
