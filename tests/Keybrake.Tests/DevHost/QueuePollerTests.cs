using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Keybrake.DevHost;
using Keybrake.Domain.Activity;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Work;
using Keybrake.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Keybrake.Tests.DevHost;

/// <summary>The development host runs queue-triggered functions as the Functions host does: retries, then the poison queue.</summary>
public sealed class QueuePollerTests : IAsyncLifetime
{
    private KeybrakeHost _host = null!;

    // Retried at once, so the test needs no waiting: the Functions host takes the same override of host.json.
    public async Task InitializeAsync() => _host = await KeybrakeHost.StartAsync(new Dictionary<string, string?>
    {
        ["AzureFunctionsJobHost:extensions:queues:visibilityTimeout"] = "00:00:00",
    });

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task AFailingWorkItem_IsRetriedMaxDequeueCountTimes_ThenLeftInThePoisonQueue()
    {
        string nightly = _host.TablePrefix + "-nightly";
        QueueServiceClient queues = _host.Services.GetRequiredService<QueueServiceClient>();
        await queues.GetQueueClient(nightly).CreateIfNotExistsAsync();
        await queues.GetQueueClient(nightly).SendMessageAsync("""{"kind":"no-such-kind","items":[]}""");

        int ran = await _host.Services.GetRequiredService<QueuePoller>().DrainAsync(CancellationToken.None);

        Assert.Equal(5, ran); // host.json maxDequeueCount
        Assert.Empty((await queues.GetQueueClient(nightly).PeekMessagesAsync()).Value);
        PeekedMessage poisoned = Assert.Single((await queues.GetQueueClient(nightly + "-poison").PeekMessagesAsync(10)).Value);
        Assert.Equal("""{"kind":"no-such-kind","items":[]}""", poisoned.MessageText);
        Assert.Contains("Unknown work item kind 'no-such-kind'", _host.Logs.All, StringComparison.Ordinal);
        Assert.Contains("failed on message", _host.Logs.All, StringComparison.Ordinal);
        Assert.Contains("moved to the poison queue", _host.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AWorkItemDeliveredTwice_DoesItsWorkOnce()
    {
        DateTimeOffset now = _host.Time.GetUtcNow();
        await _host.Services.GetRequiredService<IReservationLedger>().RecordDenialAsync(new AuditEntry
        {
            Id = AuditEntry.NewId(now), Timestamp = now, Tenant = "acme", Label = "acme:billing-agent:checkout:run", KeyId = "k", Vendor = "stripe",
            Method = "POST", Path = "/v1/payment_intents", Outcome = AuditOutcome.Denied, Reason = "cap_exceeded",
        }, CancellationToken.None);
        _host.Time.Advance(TimeSpan.FromDays(1));
        DateOnly day = DateOnly.FromDateTime(now.UtcDateTime);
        var batch = new WorkBatch(WorkKinds.Roll, [new WorkTenantDay("acme", day)]);
        IWorkQueue queue = _host.Services.GetRequiredService<IWorkQueue>();
        await queue.EnqueueAsync(_host.TablePrefix + "-nightly", batch, CancellationToken.None);
        await queue.EnqueueAsync(_host.TablePrefix + "-nightly", batch, CancellationToken.None);

        Assert.Equal(2, await _host.Services.GetRequiredService<QueuePoller>().DrainAsync(CancellationToken.None));

        IReadOnlyList<Rollup> rolled = await _host.Services.GetRequiredService<IRollupStore>().ListAsync("acme", day, CancellationToken.None);
        Assert.Equal(1, rolled.Single(r => r.Level == "tenant").Denied);
        Assert.Empty(await _host.Services.GetRequiredService<IActivityIndex>().UnrolledAsync(day, day, CancellationToken.None));
        Assert.DoesNotContain("failed on message", _host.Logs.All, StringComparison.Ordinal);
    }
}
