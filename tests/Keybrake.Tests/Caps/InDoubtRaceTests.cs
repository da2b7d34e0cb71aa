using Keybrake.Domain.Activity;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Azure.Data.Tables;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Reconciliation;
using Keybrake.Infrastructure.Storage;
using Keybrake.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Keybrake.Tests.Caps;

/// <summary>
/// Issue #18 item 1: an in-doubt row is resolved exactly once, whoever races to resolve it. Each test holds one
/// resolver after its read (a gate on the real ledger) while the other runs to the end, then lets it go on.
/// </summary>
public sealed class InDoubtRaceTests : IAsyncLifetime
{
    private ProxyHost _proxy = null!;

    public async Task InitializeAsync() => _proxy = await ProxyHost.StartAsync(
        new Dictionary<string, string?> { ["Vendors:stripe:TimeoutSeconds"] = "1" },
        configureServices: services =>
        {
            services.AddSingleton(sp => new GatedAuditLog(new ActivityRecordingAuditLog(sp.GetRequiredService<TableReservationLedger>(), sp.GetRequiredService<IActivityIndex>())));
            services.AddSingleton<IReservationLedger>(sp => sp.GetRequiredService<GatedAuditLog>());
        });

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    private GatedAuditLog Ledger => _proxy.Host.Services.GetRequiredService<GatedAuditLog>();

    private Reconciler Reconciler => _proxy.Host.Services.GetRequiredService<Reconciler>();

    [Fact]
    public async Task DoubleClickedResolve_BothReadInDoubt_TheCounterIsReleasedOnce_AndTheSecondIs409()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-1", "stripe", "POST /v1/payment_intents");
        string auditId = await _proxy.TimeOutAStripeChargeAsync(key, 900);
        Assert.Equal(9_000_000L, await KeyCounterAsync(key));
        using HttpClient root = _proxy.Host.Client();

        Ledger.AfterGet.Arm(2);
        Task<HttpResponseMessage> first = root.PostAsJsonAsync($"/v1/audit/acme/{auditId}/resolve", new { charged = false });
        Task<HttpResponseMessage> second = root.PostAsJsonAsync($"/v1/audit/acme/{auditId}/resolve", new { charged = false });
        await Ledger.AfterGet.ArrivedAsync();
        Ledger.AfterGet.Open();
        HttpStatusCode[] statuses = [(await first).StatusCode, (await second).StatusCode];

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.Conflict], statuses.Order());
        Assert.Equal(0L, await KeyCounterAsync(key));
        TableEntity row = await _proxy.AuditRowAsync(auditId);
        Assert.Equal(("error", 0L), (row.GetString("Outcome"), row.GetInt64("CostMicros")!.Value));
    }

    [Fact]
    public async Task ReconcilerWithAStaleSnapshot_AfterAnOperatorResolved_SkipsTheRow_AndTheCounterMovesOnce()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-2", "stripe", "POST /v1/payment_intents");
        _proxy.Vendors.Stripe.Options.FailWithStatus = 500;
        HttpResponseMessage failed = await _proxy.StripeChargeAsync(key, 700);
        _proxy.Vendors.Stripe.Options.FailWithStatus = null;
        string auditId = failed.Headers.GetValues("X-Keybrake-Audit-Id").Single();
        Assert.Equal(7_000_000L, await KeyCounterAsync(key));
        _proxy.Host.Time.Advance(TimeSpan.FromMinutes(6));
        using HttpClient root = _proxy.Host.Client();

        // The reconciler reads the row in doubt; the operator then settles it at 5 USD; the reconciler, going on
        // with its snapshot, finds nothing at Stripe and would release the 7 USD it thinks is still reserved.
        Ledger.AfterUnsettled.Arm(1);
        Task<ReconcileReport> run = Reconciler.RunAsync(CancellationToken.None);
        await Ledger.AfterUnsettled.ArrivedAsync();
        HttpResponseMessage resolved = await root.PostAsJsonAsync($"/v1/audit/acme/{auditId}/resolve", new { charged = true, cost_usd = 5 });
        Ledger.AfterUnsettled.Open();
        ReconcileReport report = await run;

        Assert.Equal(HttpStatusCode.OK, resolved.StatusCode);
        Assert.Equal(0, report.InDoubtResolved);
        Assert.Equal(5_000_000L, await KeyCounterAsync(key));
        TableEntity row = await _proxy.AuditRowAsync(auditId);
        Assert.Equal(("forwarded", 5_000_000L, "resolved: charged"), (row.GetString("Outcome"), row.GetInt64("CostMicros")!.Value, row.GetString("Reason")));
    }

    [Fact]
    public async Task ReconcilerFlagFromAStaleSnapshot_NeverBringsAResolvedRowBackInDoubt()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:payouts:run-3", "stripe", "POST /v1/transfers");
        using HttpClient agent = _proxy.StripeAgent(key);
        HttpResponseMessage timedOut = await _proxy.WhileStripeAnswersTooLateAsync(() => agent.PostAsync("v1/transfers", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["amount"] = "400", ["currency"] = "usd", ["destination"] = "acct_1",
        })));
        Assert.Equal(HttpStatusCode.GatewayTimeout, timedOut.StatusCode);
        string auditId = timedOut.Headers.GetValues("X-Keybrake-Audit-Id").Single();
        _proxy.Host.Time.Advance(TimeSpan.FromMinutes(6));
        using HttpClient root = _proxy.Host.Client();

        Ledger.AfterUnsettled.Arm(1);
        Task<ReconcileReport> run = Reconciler.RunAsync(CancellationToken.None);
        await Ledger.AfterUnsettled.ArrivedAsync();
        HttpResponseMessage resolved = await root.PostAsJsonAsync($"/v1/audit/acme/{auditId}/resolve", new { charged = false });
        Ledger.AfterUnsettled.Open();
        ReconcileReport report = await run;

        Assert.Equal(HttpStatusCode.OK, resolved.StatusCode);
        Assert.Equal(0, report.InDoubtFlagged);
        TableEntity row = await _proxy.AuditRowAsync(auditId);
        Assert.Equal(("error", 0L, "resolved: not charged"), (row.GetString("Outcome"), row.GetInt64("CostMicros")!.Value, row.GetString("Reason")));
        Assert.Equal(0L, await KeyCounterAsync(key));
    }

    /// <summary>The key's daily counter as Azurite holds it.</summary>
    private async Task<long> KeyCounterAsync(JsonElement key)
    {
        TableClient table = TestStorage.Service().GetTableClient(_proxy.Host.TablePrefix + "audit");
        TableEntity counter = (await table.GetEntityAsync<TableEntity>("acme|2026-11-02", "~cap|key|" + key.Str("id"))).Value;
        return counter.GetInt64("UsedMicros")!.Value;
    }
}
