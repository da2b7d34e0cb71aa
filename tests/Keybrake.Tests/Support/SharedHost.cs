using System.Reflection;
using Azure;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using Keybrake.Sandbox;

namespace Keybrake.Tests.Support;

/// <summary>
/// A development host shared by the tests of one class (an xunit class fixture), reset before each test instead
/// of booted for it: starting a host and creating its tables costs far more than the requests most tests send.
/// <see cref="ResetAsync"/> gives every test what a fresh host would show it: empty tables (every entity deleted),
/// empty queues, an empty log, and the clock at its start (a test that moved the clock leaves a fresh host behind
/// it, since a fake clock only moves forward).
/// What a reset cannot empty is the process's memory: caches, the tenant registry and activity index it remembers
/// writing, the ledger's counter ETags. A class shares a host only if its tests never depend on that memory (no
/// tenant listing, no counters or reports read back across tests' data) and leave no background work running
/// after their last response; other tests start a host of their own.
/// </summary>
public class SharedHost : IAsyncLifetime
{
    private KeybrakeHost? _host;
    private DateTimeOffset _start;

    public KeybrakeHost Host => _host ?? throw new InvalidOperationException("The shared host has not started.");

    public async Task InitializeAsync()
    {
        _host = await StartAsync();
        _start = _host.Time.GetUtcNow();
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    /// <summary>The host as the test class would have started it itself.</summary>
    protected virtual Task<KeybrakeHost> StartAsync() => KeybrakeHost.StartAsync();

    /// <summary>Call at the start of every test (the test class's InitializeAsync); returns the host.</summary>
    public async Task<KeybrakeHost> ResetAsync()
    {
        if (Host.Time.GetUtcNow() != _start)
        {
            await Host.DisposeAsync();
            _host = await StartAsync();
            return Host;
        }

        await EmptyAsync(Host);
        return Host;
    }

    /// <summary>Deletes every entity of the host's tables and every message of its queues, and clears its log.</summary>
    internal static async Task EmptyAsync(KeybrakeHost host)
    {
        TableServiceClient service = TestStorage.Service();
        foreach (string name in await TestStorage.TablesAsync(host.TablePrefix))
        {
            TableClient table = service.GetTableClient(name);
            var keys = new List<(string Partition, string Row)>();
            await foreach (TableEntity entity in table.QueryAsync<TableEntity>(select: ["PartitionKey", "RowKey"]))
            {
                keys.Add((entity.PartitionKey, entity.RowKey));
            }

            // One transaction per partition and 100 rows, the most a transaction takes.
            foreach (IGrouping<string, (string Partition, string Row)> partition in keys.GroupBy(k => k.Partition))
            {
                foreach ((string Partition, string Row)[] chunk in partition.Chunk(100))
                {
                    await table.SubmitTransactionAsync(chunk.Select(k =>
                        new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(k.Partition, k.Row), ETag.All)));
                }
            }
        }

        var queues = new QueueServiceClient(TestStorage.ConnectionString);
        await foreach (Azure.Storage.Queues.Models.QueueItem queue in queues.GetQueuesAsync(prefix: host.TablePrefix.ToLowerInvariant()))
        {
            await queues.GetQueueClient(queue.Name).ClearMessagesAsync();
        }

        host.Logs.Clear();
    }
}

/// <summary>
/// A <see cref="ProxyHost"/> (the host and the five fakes) shared by the tests of one class; see <see cref="SharedHost"/>
/// for what the reset covers and which classes may share. Besides, the fakes' ledgers are cleared and every option a
/// test can set (delays, injected failures, clocks, prices) goes back to how it was when they started. Objects the
/// fakes created (payment intents, messages) stay, as they would at a real vendor: their ids are unique to each test.
/// </summary>
public class SharedProxyHost : IAsyncLifetime
{
    private readonly List<(FakeVendorOptions Options, PropertyInfo Property, object? Value)> _defaults = [];
    private FakeVendors? _vendors;
    private ProxyHost? _proxy;
    private DateTimeOffset _start;

    public ProxyHost Proxy => _proxy ?? throw new InvalidOperationException("The shared proxy has not started.");

    public async Task InitializeAsync()
    {
        _vendors = await FakeVendors.StartAsync();
        foreach (FakeVendorOptions options in AllOptions(_vendors))
        {
            foreach (PropertyInfo property in options.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanRead && p.SetMethod?.IsPublic == true))
            {
                _defaults.Add((options, property, property.GetValue(options)));
            }
        }

        _proxy = await StartAsync(_vendors);
        _start = _proxy.Host.Time.GetUtcNow();
    }

    public virtual async Task DisposeAsync()
    {
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync();
        }
        else if (_vendors is not null)
        {
            await _vendors.DisposeAsync();
        }
    }

    /// <summary>The proxy over <paramref name="vendors"/>, as the test class would have started it itself.</summary>
    protected virtual Task<ProxyHost> StartAsync(FakeVendors vendors) => ProxyHost.StartAsync(vendors: vendors);

    /// <summary>Call at the start of every test (the test class's InitializeAsync); returns the proxy.</summary>
    public async Task<ProxyHost> ResetAsync()
    {
        foreach ((FakeVendorOptions options, PropertyInfo property, object? value) in _defaults)
        {
            // Only what changed is set back (init-only settings never change).
            if (!Equals(property.GetValue(options), value))
            {
                property.SetValue(options, value);
            }
        }

        foreach (FakeVendorOptions options in AllOptions(_vendors!))
        {
            options.FailNextRequests(0);
        }

        _vendors!.Reset();
        if (Proxy.Host.Time.GetUtcNow() != _start)
        {
            // The clock moved: a fresh host over the same fakes.
            await Proxy.Host.DisposeAsync();
            _proxy = await StartAsync(_vendors);
            return Proxy;
        }

        await SharedHost.EmptyAsync(Proxy.Host);
        return Proxy;
    }

    private static FakeVendorOptions[] AllOptions(FakeVendors vendors) =>
        [vendors.Stripe.Options, vendors.Twilio.Options, vendors.Resend.Options, vendors.Lago.Options, vendors.OpenMeter.Options];
}

/// <summary>A <see cref="SharedProxyHost"/> whose tenant <c>acme</c> has vendor accounts of its own (<see cref="ProxyHost.StartAsync"/>'s ownVendorAccounts).</summary>
public class SharedProxyHostForAcmesOwnAccounts : SharedProxyHost
{
    protected override Task<ProxyHost> StartAsync(FakeVendors vendors) => ProxyHost.StartAsync(vendors: vendors, ownVendorAccounts: ["acme"]);
}
