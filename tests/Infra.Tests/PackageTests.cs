using System.Diagnostics;
using System.Reflection;
using System.Runtime.Loader;
using System.Text.Json;
using Keybrake.Functions.Composition;
using Microsoft.Azure.Functions.Worker;

namespace Keybrake.Infra.Tests;

/// <summary>
/// Packages the app the way azd does (`dotnet publish` of src/Functions, Release) from a fresh `git clone`
/// without node_modules, and checks what the Flex Consumption app would run: the worker, every function in
/// functions.metadata, host.json, worker.config.json, the dashboard bundle inside the assembly, and no local
/// settings or development secrets.
/// </summary>
[Collection(PackageCollection.Name)]
public sealed class PackageTests(PackageTests.Package package)
{
    [Fact]
    public void CleanClone_HadNoNodeModules_AndTheBuildInstalledThem()
    {
        Assert.False(package.HadNodeModules, "the clone must start without node_modules");
        Assert.Contains("installing the dashboard's npm packages", package.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Package_HoldsTheWorkerAndItsRuntimeFiles()
    {
        foreach (var file in new[] { "Keybrake.Functions.dll", "Keybrake.Functions.deps.json", "Keybrake.Functions.runtimeconfig.json", "Keybrake.Domain.dll", "Keybrake.Infrastructure.dll", "extensions.json" })
        {
            Assert.True(File.Exists(package.File(file)), $"{file} is missing from the package");
        }

        using var worker = JsonDocument.Parse(File.ReadAllText(package.File("worker.config.json")));
        var description = worker.RootElement.GetProperty("description");
        Assert.Equal("dotnet-isolated", description.GetProperty("language").GetString());
        Assert.Equal("Keybrake.Functions.dll", description.GetProperty("defaultWorkerPath").GetString());
    }

    [Fact]
    public void Package_HostJson_IsTheRepositorys()
    {
        Assert.Equal(
            File.ReadAllText(Path.Combine(ArmTemplate.RepositoryRoot, "host.json")),
            File.ReadAllText(package.File("host.json")));
    }

    [Fact]
    public void Package_FunctionsMetadata_DeclaresEveryFunction()
    {
        var declared = typeof(KeybrakeServiceCollectionExtensions).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static))
            .Select(m => m.GetCustomAttribute<FunctionAttribute>()?.Name)
            .OfType<string>()
            .Order(StringComparer.Ordinal)
            .ToList();
        using var metadata = JsonDocument.Parse(File.ReadAllText(package.File("functions.metadata")));
        var packaged = metadata.RootElement.EnumerateArray()
            .Select(f => f.GetProperty("name").GetString()!)
            .Order(StringComparer.Ordinal)
            .ToList();

        Assert.True(declared.Count > 20, $"only {declared.Count} functions found by reflection");
        Assert.Equal(declared, packaged);
        Assert.All(metadata.RootElement.EnumerateArray(), f =>
            Assert.Equal("Keybrake.Functions.dll", Path.GetFileName(f.GetProperty("scriptFile").GetString())));
    }

    [Fact]
    public void Package_Assembly_EmbedsTheDashboardBundleWithChartJs()
    {
        var context = new AssemblyLoadContext("packaged-functions", isCollectible: true);
        try
        {
            var assembly = context.LoadFromAssemblyPath(package.File("Keybrake.Functions.dll"));
            foreach (var resource in new[] { "dashboard/index.html", "dashboard/dashboard.css", "dashboard/dashboard.js" })
            {
                Assert.Contains(resource, assembly.GetManifestResourceNames());
            }

            using var stream = assembly.GetManifestResourceStream("dashboard/dashboard.js")!;
            var bundle = new StreamReader(stream).ReadToEnd();
            Assert.True(bundle.Length > 50_000, $"the bundle is only {bundle.Length} characters");
            Assert.Contains("Chart.js", bundle, StringComparison.Ordinal); // its licence comment (--legal-comments=eof)
        }
        finally
        {
            context.Unload();
        }
    }

    [Fact]
    public void Package_HoldsNoLocalSettingsNorDevelopmentSecrets()
    {
        var files = Directory.EnumerateFiles(package.Directory, "*", SearchOption.AllDirectories).ToList();
        Assert.DoesNotContain(files, f => Path.GetFileName(f).StartsWith("local.settings", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(files, f => Path.GetFileName(f).StartsWith("appsettings.Development", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(files, f => f.EndsWith(".user", StringComparison.OrdinalIgnoreCase));

        // The clone had a developer's local.settings.json (as scripts/run.sh writes one) with a marker secret.
        var leaks = files.Where(f => File.ReadAllText(f).Contains(Package.MarkerSecret, StringComparison.Ordinal)).ToList();
        Assert.Empty(leaks);
        Assert.DoesNotContain(files, f => !f.EndsWith(".dll", StringComparison.Ordinal)
            && File.ReadAllText(f).Contains("UseDevelopmentStorage=true", StringComparison.Ordinal));
    }

    /// <summary>One clone and one publish for the package tests and the real-host test (a few minutes on a busy machine).</summary>
    public sealed class Package : IDisposable
    {
        public const string MarkerSecret = "kbroot_package_test_marker_7f3a91c2";

        private readonly string _root = System.IO.Directory.CreateTempSubdirectory("keybrake-package-").FullName;

        public Package()
        {
            var clone = Path.Combine(_root, "clone");
            Run("git", ["clone", "--quiet", "--no-hardlinks", ArmTemplate.RepositoryRoot, clone], _root);

            // Tracked changes not committed yet belong in the package too (a developer runs this before committing).
            var diff = Path.Combine(_root, "working-tree.diff");
            System.IO.File.WriteAllText(diff, Run("git", ["diff", "HEAD", "--binary"], ArmTemplate.RepositoryRoot));
            if (new FileInfo(diff).Length > 0)
            {
                Run("git", ["apply", "--whitespace=nowarn", diff], clone);
            }

            HadNodeModules = System.IO.Directory.Exists(Path.Combine(clone, "node_modules"));
            System.IO.File.WriteAllText(Path.Combine(clone, "src", "Functions", "local.settings.json"),
                System.IO.File.ReadAllText(Path.Combine(clone, "local.settings.sample.json")).Replace("__GENERATED_BY_SCRIPTS_RUN__", MarkerSecret, StringComparison.Ordinal));

            Directory = Path.Combine(_root, "package");
            Output = Run("dotnet", ["publish", Path.Combine(clone, "src", "Functions"), "--configuration", "Release", "--output", Directory], clone);
        }

        public string Directory { get; }

        public string Output { get; }

        public bool HadNodeModules { get; }

        public string File(string name) => Path.Combine(Directory, name);

        public void Dispose() => System.IO.Directory.Delete(_root, recursive: true);

        private static string Run(string command, string[] arguments, string workingDirectory)
        {
            var start = new ProcessStartInfo(command)
            {
                WorkingDirectory = workingDirectory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            // `dotnet test` sets MSBuild variables that would point the inner build at the outer one's SDK state.
            foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToList())
            {
                start.Environment.Remove(key);
            }

            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(20)))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{command} {string.Join(' ', arguments)} did not finish within 20 minutes");
            }

            var output = stdout.Result + stderr.Result;
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"{command} {string.Join(' ', arguments)} exited {process.ExitCode}:\n{output}");
            }

            return output;
        }
    }
}

/// <summary>The tests that share one packaged app.</summary>
[CollectionDefinition(Name)]
public sealed class PackageCollection : ICollectionFixture<PackageTests.Package>
{
    public const string Name = "package";
}
