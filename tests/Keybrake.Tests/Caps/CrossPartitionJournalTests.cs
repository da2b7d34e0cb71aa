using Keybrake.Domain.Activity;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Reconciliation;
using Keybrake.Infrastructure.Storage;
using Keybrake.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Keybrake.Tests.Caps;

/// <summary>
/// Issue #18 item 4: counters outside a row's partition (a monthly budget) move through a journal entry, so an instance
/// stopped between steps is finished or undone by the reconciler, never lost and never applied twice; and the proxy's
/// late outcome is ETag-conditional like every other transition. Each test stops one writer at a step (a hook on the
/// real ledger) while another acts, then lets it go on.
/// </summary>
public sealed class CrossPartitionJournalTests : IAsyncLifetime
{
    private const string Budget = "acme:billing-agent";
    private const string MonthlyRow = "~cap|budget|" + Budget + "|m";
    private ProxyHost _proxy = null!;

    public async Task InitializeAsync() => _proxy = await ProxyHost.StartAsync(
        new Dictionary<string, string?> { ["Vendors:stripe:TimeoutSeconds"] = "1", ["Proxy:BudgetCacheMilliseconds"] = "0" },
        configureServices: services =>
        {
            services.AddSingleton(sp => new GatedAuditLog(new ActivityRecordingAuditLog(sp.GetRequiredService<TableReservationLedger>(), sp.GetRequiredService<IActivityIndex>())));
            services.AddSingleton<IReservationLedger>(sp => sp.GetRequiredService<GatedAuditLog>());
        });

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    private TableReservationLedger Table => _proxy.Host.Services.GetRequiredService<TableReservationLedger>();

    private GatedAuditLog Ledger => _proxy.Host.Services.GetRequiredService<GatedAuditLog>();

    private Reconciler Reconciler => _proxy.Host.Services.GetRequiredService<Reconciler>();

    [Fact]
    public async Task InstanceStoppedAfterReservingTheMonthlyBudget_BeforeItsIntent_IsGivenBackOnceByTheReconciler()
    {
        await PutMonthlyBudgetAsync();
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:jr-1", "stripe", "POST /v1/payment_intents");
        StepGate stopped = StopAt(TableReservationLedger.StepReservedElsewhere);

        Task<HttpResponseMessage> charge = _proxy.StripeChargeAsync(key, 900);
        await stopped.ArrivedAsync();
        Assert.Equal(9_000_000L, await MonthlyAsync());
        _proxy.Host.Time.Advance(TimeSpan.FromMinutes(6));
        ReconcileReport report = await Reconciler.RunAsync(CancellationToken.None);
        long afterReconciler = await MonthlyAsync();
        stopped.Open();
        HttpResponseMessage answer = await charge;

        Assert.Equal(1, report.JournalsFinished);
        Assert.Equal(0L, afterReconciler);

        // The stopped instance, going on, cannot write its intent any more (the reconciler claimed the entry): nothing
        // is forwarded, and its own give-back finds the reservation given back already.
        Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.StatusCode);
        Assert.Equal(0L, await MonthlyAsync());
        Assert.Empty(_proxy.Vendors.Stripe.Ledger);
        Assert.Equal(0, (await Reconciler.RunAsync(CancellationToken.None)).JournalsFinished);
    }

    [Fact]
    public async Task ResolverStoppedAfterTheRowMoved_BeforeTheMonthlyBudget_IsFinishedOnceByTheReconciler()
    {
        await PutMonthlyBudgetAsync();
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:jr-2", "stripe", "POST /v1/payment_intents");
        string auditId = await _proxy.TimeOutAStripeChargeAsync(key, 900);
        Assert.Equal(9_000_000L, await MonthlyAsync());
        StepGate stopped = StopAt(TableReservationLedger.StepMoved);
        using HttpClient root = _proxy.Host.Client();

        Task<HttpResponseMessage> resolve = root.PostAsJsonAsync($"/v1/audit/acme/{auditId}/resolve", new { charged = true, cost_usd = 2 });
        await stopped.ArrivedAsync();
        TableEntity row = await _proxy.AuditRowAsync(auditId);
        long beforeReconciler = await MonthlyAsync();
        _proxy.Host.Time.Advance(TimeSpan.FromMinutes(6));
        ReconcileReport report = await Reconciler.RunAsync(CancellationToken.None);
        long afterReconciler = await MonthlyAsync();
        stopped.Open();
        HttpResponseMessage resolved = await resolve;

        Assert.Equal(("forwarded", 2_000_000L), (row.GetString("Outcome"), row.GetInt64("CostMicros")!.Value));
        Assert.Equal(9_000_000L, beforeReconciler);
        Assert.Equal(1, report.JournalsFinished);
        Assert.Equal(2_000_000L, afterReconciler);
        Assert.Equal(HttpStatusCode.OK, resolved.StatusCode);
        Assert.Equal(2_000_000L, await MonthlyAsync());
        Assert.Equal(2_000_000L, await CounterAsync("acme|2026-11-02", "~cap|key|" + key.Str("id")));
    }

    [Fact]
    public async Task LateProxyOutcome_AfterAnOperatorResolvedTheIntent_MovesNothing()
    {
        await PutMonthlyBudgetAsync();
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:jr-3", "stripe", "POST /v1/payment_intents");
        Ledger.BeforeComplete.Arm(1);
        Task<HttpResponseMessage> charge = _proxy.StripeChargeAsync(key, 900);
        await Ledger.BeforeComplete.ArrivedAsync();
        string auditId = (await _proxy.AuditRowsAsync()).Single().RowKey;
        using HttpClient root = _proxy.Host.Client();

        HttpResponseMessage resolved = await root.PostAsJsonAsync($"/v1/audit/acme/{auditId}/resolve", new { charged = false });
        Ledger.BeforeComplete.Open();
        HttpResponseMessage answer = await charge;

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (resolved.StatusCode, answer.StatusCode));
        TableEntity row = await _proxy.AuditRowAsync(auditId);
        Assert.Equal(("error", 0L), (row.GetString("Outcome"), row.GetInt64("CostMicros")!.Value));
        Assert.Equal(0L, await CounterAsync("acme|2026-11-02", "~cap|key|" + key.Str("id")));
        Assert.Equal(0L, await MonthlyAsync());
    }

    private async Task PutMonthlyBudgetAsync()
    {
        using HttpClient root = _proxy.Host.Client();
        Assert.Equal(HttpStatusCode.OK, (await root.PutAsJsonAsync($"/v1/budgets/{Budget}", new { monthly_usd = 100 })).StatusCode);
    }

    /// <summary>A gate the ledger waits at when it reaches <paramref name="step"/>, armed for one caller.</summary>
    private StepGate StopAt(string step)
    {
        var gate = new StepGate();
        gate.Arm(1);
        Table.StepHook = reached => reached == step ? gate.PassAsync() : Task.CompletedTask;
        return gate;
    }

    private Task<long> MonthlyAsync() => CounterAsync("acme|m|2026-11", MonthlyRow);

    private async Task<long> CounterAsync(string partition, string row)
    {
        TableClient table = TestStorage.Service().GetTableClient(_proxy.Host.TablePrefix + "audit");
        NullableResponse<TableEntity> counter = await table.GetEntityIfExistsAsync<TableEntity>(partition, row);
        return counter.HasValue ? counter.Value!.GetInt64("UsedMicros")!.Value : 0;
    }
}
