using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Keybrake.Tests.Support;

/// <summary>
/// A loopback "vendor" that answers every request with the exact bytes given and then closes its side
/// gracefully (FIN, not RST), so whatever it sent is surely received: e.g. a status line, headers announcing
/// a Content-Length, and only part of the body. Kestrel cannot be made to do that.
/// </summary>
public sealed class RawUpstream : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly byte[] _answer;
    private int _requests;

    private RawUpstream(string answer)
    {
        _answer = Encoding.UTF8.GetBytes(answer);
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        BaseUrl = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");
        _ = AcceptLoopAsync();
    }

    public Uri BaseUrl { get; }

    /// <summary>Requests received in full so far.</summary>
    public int Requests => Volatile.Read(ref _requests);

    public static RawUpstream Start(string answer) => new(answer);

    public ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        _stop.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = ServeAsync(socket);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        using (socket)
        {
            try
            {
                await ReadRequestAsync(socket);
                Interlocked.Increment(ref _requests);
                await socket.SendAsync(_answer, SocketFlags.None, _stop.Token);
                socket.Shutdown(SocketShutdown.Send);

                // Wait for the client to give up on the connection, so nothing it was sent is lost.
                byte[] sink = new byte[1024];
                while (await socket.ReceiveAsync(sink, SocketFlags.None, _stop.Token) > 0)
                {
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // The test is over or the client reset the connection.
            }
        }
    }

    private async Task ReadRequestAsync(Socket socket)
    {
        var received = new List<byte>();
        byte[] buffer = new byte[8192];
        int headEnd = -1;
        int contentLength = 0;
        while (headEnd < 0 || received.Count < headEnd + 4 + contentLength)
        {
            int read = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
            if (read == 0)
            {
                return;
            }

            received.AddRange(buffer.AsSpan(0, read));
            if (headEnd < 0)
            {
                headEnd = Encoding.Latin1.GetString(received.ToArray()).IndexOf("\r\n\r\n", StringComparison.Ordinal);
                if (headEnd >= 0)
                {
                    string head = Encoding.Latin1.GetString(received.ToArray(), 0, headEnd);
                    string? length = head.Split("\r\n")
                        .FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
                    contentLength = length is null ? 0 : int.Parse(length["Content-Length:".Length..].Trim(), CultureInfo.InvariantCulture);
                }
            }
        }
    }
}
