using System.Diagnostics;
using System.Text.Json;
using Keybrake.Sandbox;
using Keybrake.Tests.DevHost;

namespace Keybrake.Tests.Sdk;

/// <summary>
/// Runs the SDK scripts under <c>tests/Keybrake.Tests/Sdk</c> (Node, bash) against a Keybrake host: each
/// prints one JSON line, <c>{"ok":true,"result":…}</c> or <c>{"ok":false,"error":…}</c>.
/// </summary>
public static class SdkScripts
{
    public static string Directory { get; } = Path.Combine(FunctionsMetadataTests.RepoRoot(), "tests", "Keybrake.Tests", "Sdk");

    public static Task<JsonElement> NodeAsync(string script, string scenario, Uri keybrake, string vaultKey) =>
        RunAsync("node", [Path.Combine(Directory, "node", script), scenario], keybrake, vaultKey);

    public static Task<JsonElement> PythonAsync(string scenario, Uri keybrake, string vaultKey) =>
        RunAsync("python3", [Path.Combine(Directory, "python", "sdks.py"), scenario], keybrake, vaultKey);

    public static Task<JsonElement> BashAsync(string script, string scenario, Uri keybrake, string vaultKey) =>
        RunAsync("bash", [Path.Combine(Directory, script), scenario], keybrake, vaultKey);

    private static async Task<JsonElement> RunAsync(string program, string[] arguments, Uri keybrake, string vaultKey)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = FunctionsMetadataTests.RepoRoot(),
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // The base URL as an operator would hand it to an agent: scheme, host and port, no trailing slash.
        start.Environment["KEYBRAKE_URL"] = keybrake.GetLeftPart(UriPartial.Authority);
        start.Environment["KEYBRAKE_VAULT_KEY"] = vaultKey;

        // Nothing from the machine may steer the SDKs elsewhere (their own environment variables).
        foreach (string name in new[] { "RESEND_BASE_URL", "RESEND_API_KEY", "TWILIO_EDGE", "TWILIO_REGION", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy" })
        {
            start.Environment.Remove(name);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {program}.");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish: {await stderr}");
        }

        string output = (await stdout).Trim();
        string errors = await stderr;
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)} exited {process.ExitCode}: {output}\n{errors}");
        // The SDK scripts print their result last; curl prints just the answer's body.
        string json = program == "bash" ? output : output.Split('\n').Last();
        try
        {
            return JsonDocument.Parse(json).RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException($"{program} printed no JSON result: {output}\n{errors}", e);
        }
    }

    /// <summary>The vault key appears nowhere in what the vendor received: path, query, headers, body.</summary>
    public static void AssertNeverReached(FakeVendor vendor, string vaultKey)
    {
        Assert.NotEmpty(vendor.Ledger);
        Assert.All(vendor.Ledger, entry =>
        {
            string seen = string.Join("\n", [entry.Path, entry.Query, entry.Authorization ?? string.Empty, entry.Body, .. entry.Headers.Values]);
            Assert.DoesNotContain(vaultKey, seen, StringComparison.Ordinal);
            Assert.DoesNotContain(vaultKey, DecodedBasic(entry.Authorization), StringComparison.Ordinal);
        });
    }

    private static string DecodedBasic(string? authorization)
    {
        if (authorization is null || !authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return string.Empty;
        }

        return System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(authorization["Basic ".Length..]));
    }
}
