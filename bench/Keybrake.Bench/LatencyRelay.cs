using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace Keybrake.Bench;

/// <summary>
/// A loopback TCP relay in front of Azurite that holds every byte going to storage for a fixed delay before
/// passing it on, so each storage request takes at least that much longer, as in-region Table Storage does
/// (5-10 ms a round trip) while Azurite answers in well under a millisecond when idle. Bytes are stamped on
/// arrival and released in order at arrival + delay, so a request split over several reads is delayed once,
/// not once per read. Answers flow back undelayed.
/// </summary>
internal sealed class LatencyRelay : IAsyncDisposable
{
    private readonly IPEndPoint _target;
    private readonly TimeSpan _delay;
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    public LatencyRelay(IPEndPoint target, TimeSpan delay)
    {
        _target = target;
        _delay = delay;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start(1024);
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync();
    }

    public int Port { get; }

    /// <summary>The connection string with its table endpoint moved to this relay.</summary>
    public static (LatencyRelay Relay, string ConnectionString) InFrontOfTables(string connectionString, TimeSpan delay)
    {
        const string Key = "TableEndpoint=";
        int at = connectionString.IndexOf(Key, StringComparison.Ordinal);
        int end = connectionString.IndexOf(';', at);
        var endpoint = new Uri(connectionString[(at + Key.Length)..(end < 0 ? connectionString.Length : end)]);
        var relay = new LatencyRelay(new IPEndPoint(IPAddress.Loopback, endpoint.Port), delay);
        string moved = new UriBuilder(endpoint) { Port = relay.Port }.Uri.ToString().TrimEnd('/');
        return (relay, connectionString[..(at + Key.Length)] + moved + (end < 0 ? string.Empty : connectionString[end..]));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _accepting;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopping the listener ends the accept loop with one of these.
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client = await _listener.AcceptTcpClientAsync(_stop.Token);
            _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        using (client)
        using (var server = new TcpClient())
        {
            try
            {
                client.NoDelay = true;
                server.NoDelay = true;
                await server.ConnectAsync(_target, _stop.Token);
                NetworkStream fromClient = client.GetStream();
                NetworkStream toServer = server.GetStream();
                Task up = DelayedCopyAsync(fromClient, toServer);
                Task down = server.GetStream().CopyToAsync(fromClient, _stop.Token);
                await Task.WhenAny(up, down);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // A connection closed by either side, or the relay stopping: nothing to pass on any more.
            }
        }
    }

    private async Task DelayedCopyAsync(Stream from, Stream to)
    {
        var pending = Channel.CreateUnbounded<(long Due, byte[] Bytes, int Count)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        Task writer = Task.Run(async () =>
        {
            await foreach ((long due, byte[] bytes, int count) in pending.Reader.ReadAllAsync(_stop.Token))
            {
                TimeSpan wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, _stop.Token);
                }

                await to.WriteAsync(bytes.AsMemory(0, count), _stop.Token);
            }
        });
        long delayTicks = (long)(_delay.TotalSeconds * Stopwatch.Frequency);
        try
        {
            while (true)
            {
                byte[] buffer = new byte[16 * 1024];
                int read = await from.ReadAsync(buffer, _stop.Token);
                if (read == 0)
                {
                    break;
                }

                await pending.Writer.WriteAsync((Stopwatch.GetTimestamp() + delayTicks, buffer, read), _stop.Token);
            }
        }
        finally
        {
            pending.Writer.TryComplete();
        }

        await writer;
    }
}
