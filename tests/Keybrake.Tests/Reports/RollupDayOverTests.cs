using System.Net;
using Keybrake.Domain.Audit;
using Keybrake.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Keybrake.Tests.Reports;

/// <summary>Issue #18 item 6: a day still under way is never rolled up, so it is never marked complete.</summary>
public sealed class RollupDayOverTests : IAsyncLifetime
{
    private KeybrakeHost _host = null!;

    public async Task InitializeAsync() => _host = await KeybrakeHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task RollupOfToday_Is409_AndLeavesTheDayIncomplete_UntilTheDayIsOver()
    {
        await _host.IssueKeyAsync("acme:billing-agent:checkout:run-1", "stripe", cap: 50m, endpoints: ["POST /v1/payment_intents"], ttl: "2d");
        // A refused call makes acme active today: only active tenant-days are rolled up.
        DateTimeOffset now = _host.Time.GetUtcNow();
        await _host.Services.GetRequiredService<IReservationLedger>().RecordDenialAsync(new AuditEntry
        {
            Id = AuditEntry.NewId(now), Timestamp = now, Tenant = "acme", Label = "acme:billing-agent:checkout:run-1", KeyId = "k", Vendor = "stripe",
            Method = "POST", Path = "/v1/payment_intents", Outcome = AuditOutcome.Denied, Reason = "cap_exceeded",
        }, CancellationToken.None);
        using HttpClient root = _host.Client();
        IRollupStore store = _host.Services.GetRequiredService<IRollupStore>();

        HttpResponseMessage today = await root.PostAsync("/v1/rollups/2026-11-02", null);
        HttpResponseMessage tomorrow = await root.PostAsync("/v1/rollups/2026-11-03", null);

        Assert.Equal((HttpStatusCode.Conflict, HttpStatusCode.Conflict), (today.StatusCode, tomorrow.StatusCode));
        Assert.Equal("day_not_over", (await Json.ReadAsync(today)).GetProperty("error").Str("code"));
        Assert.False(await store.IsCompleteAsync("acme", new DateOnly(2026, 11, 2), CancellationToken.None));

        _host.Time.Advance(TimeSpan.FromHours(14.5));
        Assert.Equal(HttpStatusCode.OK, (await root.PostAsync("/v1/rollups/2026-11-02", null)).StatusCode);
        Assert.True(await store.IsCompleteAsync("acme", new DateOnly(2026, 11, 2), CancellationToken.None));
    }
}
