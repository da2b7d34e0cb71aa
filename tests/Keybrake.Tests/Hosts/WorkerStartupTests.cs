using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Keybrake.Tests.Hosts;

/// <summary>
/// The worker as the Functions host starts it: <c>dotnet Keybrake.Functions.dll</c> with the host's gRPC endpoint
/// in its settings. It must get through its whole start-up (composition, options validation, telemetry) and dial
/// the host; an exception before that is what made every call and timer fail in Azure. Needs no host: a loopback
/// listener stands in for its gRPC endpoint and only checks that the worker connects.
/// </summary>
public sealed class WorkerStartupTests
{
    [Theory]
    [InlineData("without Application Insights", null)]
    [InlineData("with Application Insights and Entra authentication", "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/")]
    public async Task TheBuiltWorker_StartsAndDialsItsHost_WithoutAnUnhandledException(string scenario, string? appInsights)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = RealFunctionsHost.AppDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(RealFunctionsHost.AppDirectory, "Keybrake.Functions.dll"));
        start.Environment["Functions__Worker__HostEndpoint"] = $"http://127.0.0.1:{port}";
        start.Environment["Functions__Worker__WorkerId"] = Guid.NewGuid().ToString();
        start.Environment["Functions__Worker__RequestId"] = Guid.NewGuid().ToString();
        start.Environment["Functions__Worker__GrpcMaxMessageLength"] = "2147483647";
        start.Environment["Tables__ConnectionString"] = "UseDevelopmentStorage=true";
        start.Environment["Secrets__keybrake-root-token"] = "root-" + Guid.NewGuid().ToString("N");
        if (appInsights is not null)
        {
            start.Environment["APPLICATIONINSIGHTS_CONNECTION_STRING"] = appInsights;
            start.Environment["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] = "ClientId=11111111-1111-1111-1111-111111111111;Authorization=AAD";
        }

        var output = new StringBuilder();
        using Process worker = Process.Start(start)!;
        worker.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        worker.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        worker.BeginOutputReadLine();
        worker.BeginErrorReadLine();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            Task<TcpClient> dialled = listener.AcceptTcpClientAsync(timeout.Token).AsTask();
            Task exited = worker.WaitForExitAsync(timeout.Token);
            Task first = await Task.WhenAny(dialled, exited);

            Assert.True(first == dialled && dialled.IsCompletedSuccessfully,
                $"{scenario}: the worker did not reach its host (exited: {worker.HasExited}):\n{output}");
            using TcpClient connection = await dialled;
            byte[] preface = new byte[14];
            await connection.GetStream().ReadExactlyAsync(preface, timeout.Token);
            Assert.Equal("PRI * HTTP/2.0", Encoding.ASCII.GetString(preface)); // gRPC: an HTTP/2 connection to the host
            Assert.DoesNotContain("Unhandled exception", output.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            if (!worker.HasExited)
            {
                worker.Kill(entireProcessTree: true);
                await worker.WaitForExitAsync();
            }
        }
    }
}
