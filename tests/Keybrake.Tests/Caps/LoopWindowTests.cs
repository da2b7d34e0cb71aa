using Azure.Data.Tables;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Caps;
using Keybrake.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Keybrake.Tests.Caps;

/// <summary>
/// Issue #18 item 9: the loop breaker's stored window stays small whatever loop_max_calls is (Table Storage refuses a
/// string over 64 KiB; Azurite does not, so the size is asserted), and it still trips after exactly that many calls.
/// Before: one comma-joined timestamp per call, 14 characters each.
/// </summary>
public sealed class LoopWindowTests : IAsyncLifetime
{
    private KeybrakeHost _host = null!;

    public async Task InitializeAsync() => _host = await KeybrakeHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task ThousandsOfCallsInOneWindow_StoreAFewHundredCharacters_AndTripAtTheLimit()
    {
        IReservationLedger audit = _host.Services.GetRequiredService<IReservationLedger>();
        DateTimeOffset start = _host.Time.GetUtcNow();
        var loop = new LoopGuard(CapPlanner.DayPartition("acme", start), "~loop|k|busy", MaxCalls: 1500, Window: TimeSpan.FromHours(1));
        var statuses = new List<BeginStatus>();
        for (int call = 0; call <= 1500; call++)
        {
            // Spread over most of the window, so every bucket gets calls.
            DateTimeOffset at = start.AddSeconds(call * 2);
            var intent = new AuditEntry
            {
                Id = AuditEntry.NewId(at), Timestamp = at, Tenant = "acme", Label = "acme:a:b:c", KeyId = "k", Vendor = "stripe",
                Method = "POST", Path = "/v1/x", Outcome = AuditOutcome.InDoubt,
            };
            statuses.Add((await audit.BeginAsync(intent, new Reservation(0, [], null, loop), CancellationToken.None)).Status);
        }

        TableEntity window = (await TestStorage.Service().GetTableClient(_host.TablePrefix + "audit").GetEntityAsync<TableEntity>(loop.Partition, loop.Row)).Value;
        int stored = window.Where(p => p.Value is string).Sum(p => ((string)p.Value).Length);
        Assert.InRange(stored, 1, 2048);
        Assert.Equal(Enumerable.Repeat(BeginStatus.Reserved, 1500).Append(BeginStatus.LoopDetected), statuses);
    }

    [Theory]
    [InlineData(5, 60, 59, true)]
    [InlineData(5, 60, 61, false)]
    public void WindowOfCounts_TripsWithinTheWindow_AndForgetsCallsOlderThanItAndOneBucket(int maxCalls, int windowSeconds, int laterSeconds, bool tripped)
    {
        var start = new DateTimeOffset(2026, 11, 2, 9, 30, 0, TimeSpan.Zero);
        string stored = string.Empty;
        for (int call = 0; call < maxCalls; call++)
        {
            stored = LoopWindow.Add(stored, start, TimeSpan.FromSeconds(windowSeconds), maxCalls).Stored;
        }

        Assert.Equal(tripped, LoopWindow.Add(stored, start.AddSeconds(laterSeconds), TimeSpan.FromSeconds(windowSeconds), maxCalls).Tripped);
    }
}
