using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;

namespace Keybrake.Infra.Tests;

/// <summary>
/// The package from <see cref="PackageTests"/> started under the real Functions host (../shared/functions-host,
/// a patched build of the open-source host) with the app settings the Bicep writes, the identity-based ones
/// replaced by their local equivalents (Azurite for storage, configuration for the root token). It must answer
/// /health and an operator call.
/// </summary>
[Collection(PackageCollection.Name)]
public sealed class RealHostTests(PackageTests.Package package)
{
    private static readonly string StartScript =
        Path.GetFullPath(Path.Combine(ArmTemplate.RepositoryRoot, "..", "shared", "functions-host", "start.sh"));

    /// <summary>How each app setting the Bicep writes is given to the local host.</summary>
    private static readonly Dictionary<string, Func<Settings, KeyValuePair<string, string>?>> LocalEquivalent = new(StringComparer.Ordinal)
    {
        // Identity-based host storage -> an Azurite connection string.
        ["AzureWebJobsStorage__credential"] = s => new("AzureWebJobsStorage", s.Storage),
        ["AzureWebJobsStorage__clientId"] = _ => null,
        ["AzureWebJobsStorage__blobServiceUri"] = _ => null,
        ["AzureWebJobsStorage__queueServiceUri"] = _ => null,
        ["AzureWebJobsStorage__tableServiceUri"] = _ => null,
        // The work queues: the same names, in Azurite (the connection string above).
        ["Queues__Reconcile"] = _ => new("Queues__Reconcile", "keybrake-reconcile"),
        ["Queues__Nightly"] = _ => new("Queues__Nightly", "keybrake-nightly"),
        // The app's tables by endpoint + identity -> by connection string.
        ["Tables__ServiceUri"] = s => new("Tables__ConnectionString", s.Storage),
        // Key Vault -> secrets from configuration.
        ["KeyVault__Uri"] = s => new("Secrets__keybrake-root-token", s.RootToken),
        ["AZURE_CLIENT_ID"] = _ => new("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000001"),
        // Telemetry: a connection string whose ingestion endpoint is a closed loopback port; Entra
        // authentication of telemetry has no local equivalent (the patched host sends no telemetry anyway).
        ["APPLICATIONINSIGHTS_CONNECTION_STRING"] = _ => new("APPLICATIONINSIGHTS_CONNECTION_STRING",
            "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/"),
        ["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] = _ => null,
    };

    [Fact]
    public void EveryPlatformSettingTheBicepWrites_HasALocalEquivalentHere()
    {
        // A new setting in function.bicep must be decided on here, or this test would start the app without it.
        Assert.Equal(
            LocalEquivalent.Keys.Order(StringComparer.Ordinal),
            FunctionAppTests.AppSettingsByName.Named.Keys.Where(k => k != "Alerts__WebhookUrl").Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Package_UnderTheRealFunctionsHost_AnswersHealthAndAnOperatorCall()
    {
        Assert.True(File.Exists(StartScript), $"{StartScript} is missing: the real-host test needs ../shared/functions-host beside the repository");
        var settings = new Settings(
            Storage: Environment.GetEnvironmentVariable("KEYBRAKE_TEST_STORAGE") is { Length: > 0 } storage ? storage : "UseDevelopmentStorage=true",
            RootToken: "kbroot_" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)));
        var values = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["Tables__Prefix"] = "h" + Guid.NewGuid().ToString("N")[..12],
            ["AZURE_FUNCTIONS_ENVIRONMENT"] = "Development", // the host logs to the console only in Development
        };
        foreach (var map in LocalEquivalent.Values)
        {
            if (map(settings) is { } pair)
            {
                values[pair.Key] = pair.Value;
            }
        }

        var directory = Directory.CreateTempSubdirectory("keybrake-realhost-").FullName;
        var settingsFile = Path.Combine(directory, "settings.json");
        await File.WriteAllTextAsync(settingsFile, JsonSerializer.Serialize(new { Values = values }));
        int port = FreePort();

        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { StartScript, package.Directory, port.ToString(System.Globalization.CultureInfo.InvariantCulture), settingsFile })
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(key);
        }

        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var host = Process.Start(start)!;
        host.OutputDataReceived += (_, e) => { if (e.Data is not null) { output.Enqueue(e.Data); } };
        host.ErrorDataReceived += (_, e) => { if (e.Data is not null) { output.Enqueue(e.Data); } };
        host.BeginOutputReadLine();
        host.BeginErrorReadLine();
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(10) };
            HttpStatusCode? health = null;
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(4); // a cold host build plus start on a busy machine
            while (DateTime.UtcNow < deadline && !host.HasExited)
            {
                try
                {
                    using var response = await client.GetAsync("health");
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        health = response.StatusCode;
                        break;
                    }
                }
                catch (HttpRequestException)
                {
                    // Not listening yet.
                }
                catch (TaskCanceledException)
                {
                    // Listening, but the worker is not up yet.
                }

                await Task.Delay(500);
            }

            Assert.True(health == HttpStatusCode.OK,
                $"/health did not answer 200 (host exited: {host.HasExited}). Host output:\n{string.Join('\n', output.TakeLast(80))}");

            using var keys = new HttpRequestMessage(HttpMethod.Get, "v1/keys");
            keys.Headers.Authorization = new AuthenticationHeaderValue("Bearer", settings.RootToken);
            using var answer = await client.SendAsync(keys);
            Assert.True(answer.StatusCode == HttpStatusCode.OK, $"GET /v1/keys answered {(int)answer.StatusCode}: {await answer.Content.ReadAsStringAsync()}");
        }
        finally
        {
            Stop(host);
            Directory.Delete(directory, recursive: true);
        }
    }

    // SIGTERM, so the host stops its worker too (SIGKILL would orphan it); then make sure.
    private static void Stop(Process host)
    {
        if (host.HasExited)
        {
            return;
        }

        using (var kill = Process.Start("kill", ["-TERM", host.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            kill.WaitForExit();
        }

        if (!host.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            host.Kill(entireProcessTree: true);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed record Settings(string Storage, string RootToken);
}
