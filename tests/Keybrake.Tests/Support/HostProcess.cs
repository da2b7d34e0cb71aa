using System.Diagnostics;

namespace Keybrake.Tests.Support;

/// <summary>
/// The development host in a process of its own (real clock, own caches), for tests that need several
/// instances sharing one storage account, as a scaled-out Functions app would.
/// </summary>
public sealed class HostProcess : IAsyncDisposable
{
    private readonly Process _process;

    private HostProcess(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    /// <summary>What the host printed (warnings and errors), for failure messages.</summary>
    public IReadOnlyCollection<string> Output { get; private init; } = [];

    public static async Task<HostProcess> StartAsync(IReadOnlyDictionary<string, string?> settings)
    {
        int port = HostHealth.FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetTempPath(),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Keybrake.DevHost.dll"));
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{port}");
        start.ArgumentList.Add("--settings");
        start.ArgumentList.Add(Path.Combine(Path.GetTempPath(), "keybrake-no-settings.json"));
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        start.Environment["DevHost__RunTimers"] = "false";
        foreach ((string key, string? value) in settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        Process process = Process.Start(start)!;
        // Kept for diagnosis: a failing test can show what the host said.
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null && output.Count < 2000) { output.Enqueue(e.Data); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null && output.Count < 2000) { output.Enqueue(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var host = new HostProcess(process, new Uri($"http://127.0.0.1:{port}/")) { Output = output };
        try
        {
            await HostHealth.WaitAsync(host.BaseAddress, process, TimeSpan.FromSeconds(30), () => string.Join('\n', output));
            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
