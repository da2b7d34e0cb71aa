using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Keybrake.Domain.Audit;
using Keybrake.Infrastructure.Storage;
using Keybrake.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Keybrake.Tests.Reports;

/// <summary>
/// Issue #18 item 5: a rollup run holding an older snapshot of a day (read before a late settlement) finishes after a
/// newer run: it must neither overwrite the newer rows nor mark the day complete with its figures.
/// </summary>
public sealed class RollupRaceTests : IAsyncLifetime
{
    private static readonly DateOnly Day = new(2026, 11, 2);
    private ProxyHost _proxy = null!;

    public async Task InitializeAsync() => _proxy = await ProxyHost.StartAsync(
        new Dictionary<string, string?> { ["Vendors:stripe:TimeoutSeconds"] = "1" },
        configureServices: services =>
        {
            services.AddSingleton(sp => new GatedAuditReader(sp.GetRequiredService<TableAuditReader>()));
            services.AddSingleton<IAuditReader>(sp => sp.GetRequiredService<GatedAuditReader>());
        });

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    [Fact]
    public async Task OlderSnapshotFinishingAfterANewerOne_NeitherOverwritesItNorMarksTheDay()
    {
        JsonElement key = await _proxy.Host.IssueKeyAsync("acme:billing-agent:checkout:roll-1", "stripe", cap: 50m, endpoints: ["POST /v1/payment_intents"], ttl: "2d");
        string auditId = await _proxy.TimeOutAStripeChargeAsync(key, 900);
        _proxy.Host.Time.Advance(TimeSpan.FromDays(1));
        RollupService rollups = _proxy.Host.Services.GetRequiredService<RollupService>();
        GatedAuditReader reader = _proxy.Host.Services.GetRequiredService<GatedAuditReader>();
        using HttpClient root = _proxy.Host.Client();

        // The nightly run reads the day with the call in doubt at 9 USD; the operator then settles it at 7.25, which
        // re-rolls the day; only then does the nightly run write what it read.
        reader.AfterRead.Arm(1);
        Task<int> nightly = rollups.RunAsync("acme", Day, CancellationToken.None);
        await reader.AfterRead.ArrivedAsync();
        HttpResponseMessage resolved = await root.PostAsJsonAsync($"/v1/audit/acme/{auditId}/resolve", new { charged = true, cost_usd = 7.25 });
        reader.AfterRead.Open();
        int written = await nightly;

        Assert.Equal(HttpStatusCode.OK, resolved.StatusCode);
        Assert.Equal(0, written);
        IRollupStore store = _proxy.Host.Services.GetRequiredService<IRollupStore>();
        RollupDay? tenantLevel = await store.ReadLevelAsync("acme", Day, "tenant", "acme", null, CancellationToken.None);
        Assert.NotNull(tenantLevel);
        Assert.Equal(7_250_000L, tenantLevel.Rows.Single().GrossMicros);
        Assert.Equal(7_250_000L, (await store.ListAsync("acme", Day, CancellationToken.None)).Where(r => r.Level == "tenant").Single().GrossMicros);
    }
}
