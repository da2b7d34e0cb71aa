using System.Net;
using System.Net.Sockets;

namespace Keybrake.Tests.Support;

/// <summary>
/// A loopback TCP relay in front of a real server (Azurite), which a test can cut and restore to
/// make storage "go away" and come back on the same address, as an outage would.
/// </summary>
public sealed class TcpRelay : IAsyncDisposable
{
    private readonly IPEndPoint _target;
    private readonly List<TcpClient> _open = [];
    private TcpListener? _listener;
    private volatile bool _stalled;
    private CancellationTokenSource _stop = new();

    public TcpRelay(IPEndPoint target)
    {
        _target = target;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _ = AcceptLoopAsync(_listener, _stop.Token);
    }

    public int Port { get; }

    /// <summary>Closes the listener and every relayed connection: new connections are refused.</summary>
    public void Cut()
    {
        _stop.Cancel();
        _listener?.Stop();
        _listener = null;
        CloseOpen();
    }

    private void CloseOpen()
    {
        lock (_open)
        {
            foreach (TcpClient client in _open)
            {
                client.Dispose();
            }

            _open.Clear();
        }
    }

    /// <summary>
    /// Storage that hangs instead of refusing: connections are accepted and never answered (a black-holed
    /// network path), so only the client's own timeouts end a request. Existing connections are closed.
    /// </summary>
    public void Stall()
    {
        _stalled = true;
        CloseOpen();
    }

    public void Restore()
    {
        if (_stalled)
        {
            _stalled = false;
            CloseOpen();
            return;
        }

        _stop = new CancellationTokenSource();
        _listener = new TcpListener(IPAddress.Loopback, Port);
        _listener.Start();
        _ = AcceptLoopAsync(_listener, _stop.Token);
    }

    /// <summary>The test storage connection string with its table endpoint moved behind this relay.</summary>
    public static (TcpRelay Relay, string ConnectionString) ForTestStorage()
    {
        Uri table = TestStorage.Service().Uri;
        var relay = new TcpRelay(new IPEndPoint(IPAddress.Loopback, table.Port));
        string connection =
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
            "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
            $"TableEndpoint=http://127.0.0.1:{relay.Port}/devstoreaccount1;";
        return (relay, connection);
    }

    private async Task AcceptLoopAsync(TcpListener listener, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            TcpClient inbound;
            try
            {
                inbound = await listener.AcceptTcpClientAsync(cancellationToken);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            if (_stalled)
            {
                lock (_open)
                {
                    _open.Add(inbound);
                }

                continue;
            }

            var outbound = new TcpClient();
            try
            {
                await outbound.ConnectAsync(_target, cancellationToken);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException)
            {
                inbound.Dispose();
                outbound.Dispose();
                continue;
            }

            lock (_open)
            {
                _open.Add(inbound);
                _open.Add(outbound);
            }

            _ = PumpAsync(inbound, outbound, cancellationToken);
            _ = PumpAsync(outbound, inbound, cancellationToken);
        }
    }

    private static async Task PumpAsync(TcpClient from, TcpClient to, CancellationToken cancellationToken)
    {
        try
        {
            await from.GetStream().CopyToAsync(to.GetStream(), cancellationToken);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            // A cut relay ends its connections; that is the point.
        }
        finally
        {
            from.Dispose();
            to.Dispose();
        }
    }

    public ValueTask DisposeAsync()
    {
        Cut();
        return ValueTask.CompletedTask;
    }
}
