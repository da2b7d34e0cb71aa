using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Keybrake.Tests.Support;

/// <summary>What every test that starts a host in a process of its own needs: a free loopback port, and a wait for /health.</summary>
public static class HostHealth
{
    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>Waits until the host answers 200 on /health; fails at once if its process exits first.</summary>
    public static async Task WaitAsync(Uri baseAddress, Process process, TimeSpan timeout, Func<string> output)
    {
        using var client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(2) };
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < timeout)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The host exited with {process.ExitCode} before answering /health:\n{output()}");
            }

            try
            {
                if ((await client.GetAsync("/health")).StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException)
            {
                // Not answering yet.
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"The host did not answer /health in {timeout.TotalSeconds} s:\n{output()}");
    }
}
