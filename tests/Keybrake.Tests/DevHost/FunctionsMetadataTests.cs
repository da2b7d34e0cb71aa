using System.Text.Json;
using Keybrake.DevHost;
using Microsoft.Extensions.Configuration;

namespace Keybrake.Tests.DevHost;

/// <summary>The development host must serve exactly what the Functions build declares, so the two cannot drift.</summary>
public sealed class FunctionsMetadataTests
{
    [Fact]
    public void DevelopmentHostRoutes_EqualTheBuildsFunctionsMetadata()
    {
        List<string> declared = ReadMetadata()
            .Where(f => f.Type == "httpTrigger")
            .Select(f => Describe(f.Name, f.Route, f.Methods, f.AuthLevel))
            .Order()
            .ToList();
        List<string> served = DevHostApp.Functions
            .Select(f => Describe(f.Name, f.Route, f.Methods?.Select(m => m.ToLowerInvariant()).ToList(), f.AuthLevel.ToString()))
            .Order()
            .ToList();

        Assert.NotEmpty(declared);
        Assert.Equal(declared, served);
    }

    [Fact]
    public void DevelopmentHostTimers_EqualTheBuildsFunctionsMetadata_AndEachScheduleIsASettingWithADefault()
    {
        List<string> declared = ReadMetadata().Where(f => f.Type == "timerTrigger").Select(f => $"{f.Name} {f.Schedule}").Order().ToList();
        List<string> scheduled = DevHostApp.Timers.Select(t => $"{t.Name} {t.Schedule}").Order().ToList();

        Assert.NotEmpty(declared);
        Assert.Equal(declared, scheduled);

        // Operators change a schedule with the app setting Timers__{Function}; the sample settings (and so a fresh
        // local.settings.json) carry today's schedules, which the Functions host needs to index the function at all.
        using JsonDocument sample = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoRoot(), "local.settings.sample.json")));
        var defaults = new ConfigurationBuilder()
            .AddInMemoryCollection(sample.RootElement.GetProperty("Values").EnumerateObject()
                .Select(p => KeyValuePair.Create(p.Name.Replace("__", ":", StringComparison.Ordinal), p.Value.GetString())))
            .Build();
        Assert.All(DevHostApp.Timers, timer =>
        {
            Assert.Equal($"%Timers:{timer.Name}%", timer.Schedule);
            Assert.NotNull(timer.ResolveSchedule(defaults));
        });
    }

    [Fact]
    public void DevelopmentHostQueuePoller_ListensOnTheBuildsQueueTriggers_EachQueueASettingWithADefault()
    {
        List<string> declared = ReadMetadata().Where(f => f.Type == "queueTrigger").Select(f => $"{f.Name} {f.QueueName}").Order().ToList();
        List<string> polled = QueuePoller.Functions.Select(q => $"{q.Name} {q.QueueName}").Order().ToList();

        Assert.Equal(["NightlyWork %Queues:Nightly%", "ReconcileWork %Queues:Reconcile%"], declared);
        Assert.Equal(declared, polled);
        using JsonDocument sample = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoRoot(), "local.settings.sample.json")));
        var defaults = new ConfigurationBuilder()
            .AddInMemoryCollection(sample.RootElement.GetProperty("Values").EnumerateObject()
                .Select(p => KeyValuePair.Create(p.Name.Replace("__", ":", StringComparison.Ordinal), p.Value.GetString())))
            .Build();
        Assert.Equal(["keybrake-nightly", "keybrake-reconcile"], QueuePoller.Functions.Select(q => q.ResolveQueue(defaults)).Order());
    }

    [Fact]
    public void EveryHttpFunction_IsAnonymousAtTheFunctionsLayer()
    {
        // The app authenticates every request itself (docs/design.md §7); a function key would break clients that send only a bearer token.
        Assert.All(ReadMetadata().Where(f => f.Type == "httpTrigger"), f => Assert.Equal("Anonymous", f.AuthLevel));
    }

    [Fact]
    public void HostJson_ServesRoutesWithoutThePrefix()
    {
        using JsonDocument host = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoRoot(), "host.json")));
        Assert.Equal(string.Empty, host.RootElement.GetProperty("extensions").GetProperty("http").GetProperty("routePrefix").GetString());
    }

    private static string Describe(string name, string? route, IEnumerable<string>? methods, string? authLevel) =>
        $"{name} {route} [{string.Join(",", methods is null ? ["*"] : methods.Order())}] {authLevel}";

    private sealed record DeclaredFunction(string Name, string Type, string? Route, List<string>? Methods, string? AuthLevel, string? Schedule, string? QueueName = null);

    private static List<DeclaredFunction> ReadMetadata()
    {
        // The build of src/Functions emits functions.metadata next to its assembly; use the same configuration as this test.
        string configuration = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        string path = Path.Combine(RepoRoot(), "src", "Functions", "bin", configuration, "net10.0", "functions.metadata");
        Assert.True(File.Exists(path), $"{path} is missing: the Functions build did not emit it.");

        using JsonDocument document = JsonDocument.Parse(File.ReadAllText(path));
        var functions = new List<DeclaredFunction>();
        foreach (JsonElement function in document.RootElement.EnumerateArray())
        {
            JsonElement trigger = function.GetProperty("bindings").EnumerateArray()
                .First(b => b.GetProperty("type").GetString()!.EndsWith("Trigger", StringComparison.Ordinal));
            functions.Add(new DeclaredFunction(
                function.GetProperty("name").GetString()!,
                trigger.GetProperty("type").GetString()!,
                trigger.TryGetProperty("route", out JsonElement route) ? route.GetString() : null,
                trigger.TryGetProperty("methods", out JsonElement methods) && methods.ValueKind == JsonValueKind.Array
                    ? methods.EnumerateArray().Select(m => m.GetString()!).ToList()
                    : null,
                trigger.TryGetProperty("authLevel", out JsonElement auth) ? auth.GetString() : null,
                trigger.TryGetProperty("schedule", out JsonElement schedule) ? schedule.GetString() : null,
                trigger.TryGetProperty("queueName", out JsonElement queue) ? queue.GetString() : null));
        }

        return functions;
    }

    internal static string RepoRoot()
    {
        string? directory = AppContext.BaseDirectory;
        while (directory is not null && !File.Exists(Path.Combine(directory, "Serverless.sln")))
        {
            directory = Path.GetDirectoryName(directory);
        }

        return directory ?? throw new InvalidOperationException("Serverless.sln not found above the test output.");
    }
}
