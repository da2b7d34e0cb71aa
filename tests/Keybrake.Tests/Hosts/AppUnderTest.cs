using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Keybrake.Sandbox;
using Keybrake.Tests.Support;

namespace Keybrake.Tests.Hosts;

/// <summary>
/// The built app running in a process of its own, on a real clock, with fake vendors, a webhook receiver and
/// its own tables in Azurite; the black-box suite (<see cref="BlackBoxSuite{TApp}"/>) runs against each kind:
/// the real Functions host and the development host.
/// </summary>
public abstract partial class AppUnderTest : IAsyncLifetime
{
    private readonly ConcurrentQueue<string> _output = new();
    private readonly ConcurrentDictionary<string, int> _timerRuns = new(StringComparer.Ordinal);
    private Process? _process;

    public Uri BaseAddress { get; private set; } = null!;

    public string RootToken { get; } = "root-" + Guid.NewGuid().ToString("N");

    public string TablePrefix { get; } = TestStorage.NewPrefix();

    public FakeVendors Vendors { get; private set; } = null!;

    public WebhookReceiver Webhook { get; private set; } = null!;

    public string WebhookSecret { get; } = "whsec-" + Guid.NewGuid().ToString("N");

    /// <summary>Every setting the app is started with (':' separated names, as the code reads them).</summary>
    public IReadOnlyDictionary<string, string?> Settings { get; private set; } = null!;

    /// <summary>What the process printed, newest last (the last few thousand lines), for failure messages.</summary>
    public string RecentOutput => string.Join('\n', _output);

    /// <summary>Successful runs of a timer or queue-triggered function seen in the host's log so far.</summary>
    public int TimerRuns(string function) => _timerRuns.GetValueOrDefault(function);

    public async Task InitializeAsync()
    {
        Vendors = await FakeVendors.StartAsync();
        Webhook = await WebhookReceiver.StartAsync();
        var settings = new Dictionary<string, string?>(Vendors.ProxyConfiguration(), StringComparer.OrdinalIgnoreCase)
        {
            ["AzureWebJobsStorage"] = TestStorage.ConnectionString,
            ["Tables:ConnectionString"] = TestStorage.ConnectionString,
            ["Tables:Prefix"] = TablePrefix,
            ["Queues:Reconcile"] = TablePrefix + "-reconcile",
            ["Queues:Nightly"] = TablePrefix + "-nightly",
            ["Secrets:keybrake-root-token"] = RootToken,
            ["Alerts:WebhookUrl"] = Webhook.Url.ToString(),
            ["Secrets:alerts-webhook-secret"] = WebhookSecret,

            // Every few seconds, so the suite sees each timer run on its own while it works.
            ["Timers:DailyRollup"] = "*/5 * * * * *",
            ["Timers:Reconciler"] = "*/5 * * * * *",
            ["Timers:BudgetAlerts"] = "*/3 * * * * *",
            ["Timers:DeliverAlerts"] = "*/2 * * * * *",
            ["Timers:ExportOutbox"] = "*/5 * * * * *",
        };
        Settings = settings;

        int port = HostHealth.FreePort();
        ProcessStartInfo start = StartInfo(port);
        foreach ((string key, string? value) in settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, e) => Record(e.Data);
        _process.ErrorDataReceived += (_, e) => Record(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        BaseAddress = new Uri($"http://127.0.0.1:{port}/");
        await HostHealth.WaitAsync(BaseAddress, _process, StartTimeout, () => RecentOutput);
    }

    /// <summary>How to start this kind of host listening on <paramref name="port"/>; settings are added as environment variables.</summary>
    protected abstract ProcessStartInfo StartInfo(int port);

    /// <summary>How long the host may take to answer /health (the real host builds itself on first use).</summary>
    protected abstract TimeSpan StartTimeout { get; }

    /// <summary>The name of the timer function in a log line that says it ran and succeeded, or null.</summary>
    protected abstract string? SucceededTimer(string line);

    private void Record(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        while (_output.Count > 4000 && _output.TryDequeue(out _))
        {
        }

        if (SucceededTimer(line) is { } function)
        {
            _timerRuns.AddOrUpdate(function, 1, (_, runs) => runs + 1);
        }
    }

    public async Task DisposeAsync()
    {
        if (_process is not null)
        {
            if (!_process.HasExited)
            {
                // SIGTERM first: the Functions host then stops its worker (a kill would orphan it).
                Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])?.WaitForExit();
                using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(15));
                try
                {
                    await _process.WaitForExitAsync(stop.Token);
                }
                catch (OperationCanceledException)
                {
                    _process.Kill(entireProcessTree: true);
                    await _process.WaitForExitAsync();
                }
            }

            _process.Dispose();
        }

        await Webhook.DisposeAsync();
        await Vendors.DisposeAsync();
    }

    /// <summary>The repository's root (where Serverless.sln is), found from the test assembly's folder.</summary>
    protected static string RepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Serverless.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No Serverless.sln above {AppContext.BaseDirectory}.");
    }

    /// <summary>Debug or Release: the configuration these tests were built in, and so the app's build output next to them.</summary>
    protected static string BuildConfiguration() =>
        ConfigurationPattern().Match(AppContext.BaseDirectory.Replace('\\', '/')) is { Success: true } match ? match.Groups[1].Value : "Debug";

    [GeneratedRegex("/bin/([^/]+)/net")]
    private static partial Regex ConfigurationPattern();
}

/// <summary>
/// The open-source Azure Functions host built from source (<c>../shared/functions-host</c>, beside the repository),
/// running the Functions project's build output exactly as <c>func start</c> and Azure do: the worker is
/// <c>Keybrake.Functions.dll</c> started by the host, functions indexed from <c>functions.metadata</c>, routes and
/// timers owned by the host.
/// </summary>
public sealed partial class RealFunctionsHost : AppUnderTest
{
    public static string StartScript => Path.GetFullPath(Path.Combine(RepositoryRoot(), "..", "shared", "functions-host", "start.sh"));

    public static string AppDirectory => Path.Combine(RepositoryRoot(), "src", "Functions", "bin", BuildConfiguration(), "net10.0");

    // The first start on a machine builds the host (about a minute, cached); scripts/test.sh builds it beforehand.
    protected override TimeSpan StartTimeout => TimeSpan.FromMinutes(4);

    protected override ProcessStartInfo StartInfo(int port)
    {
        if (!File.Exists(StartScript))
        {
            throw new InvalidOperationException(
                $"The real Functions host is not beside the repository ({StartScript}): clone the planning repository's shared/ next to it.");
        }

        var start = new ProcessStartInfo("bash") { WorkingDirectory = RepositoryRoot() };
        start.ArgumentList.Add(StartScript);
        start.ArgumentList.Add(AppDirectory);
        start.ArgumentList.Add(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return start;
    }

    protected override string? SucceededTimer(string line) =>
        ExecutedPattern().Match(line) is { Success: true } match ? match.Groups[1].Value : null;

    [GeneratedRegex(@"Executed 'Functions\.([A-Za-z]+)' \(Succeeded")]
    private static partial Regex ExecutedPattern();
}

/// <summary>The development host (<c>src/DevHost</c>) in a process of its own, with its timer scheduler on.</summary>
public sealed partial class DevHostProcess : AppUnderTest
{
    protected override TimeSpan StartTimeout => TimeSpan.FromSeconds(60);

    protected override ProcessStartInfo StartInfo(int port)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = Path.GetTempPath() };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Keybrake.DevHost.dll"));
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{port}");
        start.ArgumentList.Add("--settings");
        start.ArgumentList.Add(Path.Combine(Path.GetTempPath(), "keybrake-no-settings.json"));
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        start.Environment["Logging__LogLevel__Keybrake.DevHost"] = "Information";
        return start;
    }

    protected override string? SucceededTimer(string line) =>
        RanPattern().Match(line) is { Success: true } match ? match.Groups[1].Value : null;

    [GeneratedRegex(@"(?:Timer|Queue function) ([A-Za-z]+) ran \(Succeeded")]
    private static partial Regex RanPattern();
}
