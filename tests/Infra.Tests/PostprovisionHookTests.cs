using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Keybrake.Infra.Tests;

/// <summary>
/// infra/scripts/postprovision.sh run by bash against a fake `az` that plays Key Vault and Azure Resource Manager:
/// what it does in each case the issue names (token there, missing, no data access, access not effective yet),
/// and that a failure says what to do.
/// </summary>
public sealed partial class PostprovisionHookTests : IDisposable
{
    private const string FakeAz = """
        #!/usr/bin/env bash
        # Fake Azure CLI for the hook tests. Logs each call; answers from FAKE_AZ_* variables.
        printf '%s\n' "$*" >>"$FAKE_AZ_LOG"
        case "$1 $2 $3" in
          "keyvault secret show")
            shows=$(grep -c '^keyvault secret show' "$FAKE_AZ_LOG")
            if [ "$shows" -le "${FAKE_AZ_FORBIDDEN_SHOWS:-0}" ]; then
              echo "ERROR: (Forbidden) Caller is not authorized to perform action on resource. Code: ForbiddenByRbac" >&2; exit 1
            fi
            if [ "${FAKE_AZ_SECRET:-}" = exists ]; then echo "https://kv-test.vault.azure.net/secrets/keybrake-root-token/abc"; exit 0; fi
            echo "ERROR: (SecretNotFound) A secret with (name/id) keybrake-root-token was not found in this key vault." >&2; exit 1 ;;
          "keyvault secret set")
            if [ "${FAKE_AZ_SET_FORBIDDEN:-}" = 1 ]; then echo "ERROR: (Forbidden) Caller is not authorized. Code: ForbiddenByRbac" >&2; exit 1; fi
            while [ $# -gt 0 ]; do
              if [ "$1" = --file ]; then cp "$2" "$FAKE_AZ_DIR/token"; stat -c '%a' "$2" >"$FAKE_AZ_DIR/mode"; echo "$2" >"$FAKE_AZ_DIR/path"; fi
              shift
            done
            exit 0 ;;
        esac
        case "$1 $2" in
          "keyvault show") echo "/subscriptions/sub/resourceGroups/rg-test/providers/Microsoft.KeyVault/vaults/kv-test"; exit 0 ;;
          "resource show")
            if [ "${FAKE_AZ_ARM_SECRET:-}" = exists ]; then echo "/subscriptions/sub/resourceGroups/rg-test/providers/Microsoft.KeyVault/vaults/kv-test/secrets/keybrake-root-token"; exit 0; fi
            echo "ERROR: (ResourceNotFound) The Resource 'Microsoft.KeyVault/vaults/kv-test/secrets/keybrake-root-token' was not found." >&2; exit 3 ;;
        esac
        echo "fake az: unexpected call: $*" >&2; exit 2
        """;

    private static readonly string Script = Path.Combine(ArmTemplate.RepositoryRoot, "infra", "scripts", "postprovision.sh");

    private readonly string _directory = Directory.CreateTempSubdirectory("keybrake-hook-").FullName;

    public PostprovisionHookTests()
    {
        var bin = Directory.CreateDirectory(Path.Combine(_directory, "bin")).FullName;
        File.WriteAllText(Path.Combine(bin, "az"), FakeAz.Replace("\r\n", "\n", StringComparison.Ordinal) + "\n");
        if (!OperatingSystem.IsWindows()) // the hook is a bash script: these tests run where bash does
        {
            File.SetUnixFileMode(Path.Combine(bin, "az"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    private string Log => Path.Combine(_directory, "az.log");

    private string[] Calls => File.Exists(Log) ? File.ReadAllLines(Log) : [];

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void TokenExists_LeavesItAlone_AndSucceeds()
    {
        var run = Run(new() { ["FAKE_AZ_SECRET"] = "exists" });
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains("'keybrake-root-token' already exists in Key Vault 'kv-test'; left unchanged.", run.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(Calls, c => c.StartsWith("keyvault secret set", StringComparison.Ordinal));
    }

    [Fact]
    public void TokenMissing_GeneratesA256BitTokenFromA0600File_NeverPrintedNorPassedAsAnArgument()
    {
        var run = Run([]);
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains("generated a new operator root token into 'keybrake-root-token'", run.Output, StringComparison.Ordinal);

        var token = File.ReadAllText(Path.Combine(_directory, "token"));
        Assert.Matches(Hex64(), token);
        Assert.Equal("600", File.ReadAllText(Path.Combine(_directory, "mode")).Trim());
        Assert.DoesNotContain(token, run.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(Calls, c => c.Contains(token, StringComparison.Ordinal));
        Assert.False(File.Exists(File.ReadAllText(Path.Combine(_directory, "path")).Trim()), "the token file is deleted");
    }

    [Fact]
    public void NoDataAccess_TokenExists_SeenThroughResourceManager_Succeeds()
    {
        // A pipeline principal with Reader/Contributor but no Key Vault data role, on a re-provision.
        var run = Run(new() { ["FAKE_AZ_FORBIDDEN_SHOWS"] = "99", ["FAKE_AZ_ARM_SECRET"] = "exists", ["KEYBRAKE_GRANT_DEPLOYER_ACCESS"] = "FALSE" });
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains("seen through Azure Resource Manager", run.Output, StringComparison.Ordinal);
        Assert.Contains(Calls, c => c == "resource show --ids /subscriptions/sub/resourceGroups/rg-test/providers/Microsoft.KeyVault/vaults/kv-test/secrets/keybrake-root-token --query id --output tsv");
        Assert.DoesNotContain(Calls, c => c.StartsWith("keyvault secret set", StringComparison.Ordinal));
    }

    [Fact]
    public void AccessNotEffectiveYet_IsRetried_ThenTheTokenIsGenerated()
    {
        // Default (no KEYBRAKE_GRANT_DEPLOYER_ACCESS): the deployer was just given Key Vault Secrets Officer.
        var run = Run(new() { ["FAKE_AZ_FORBIDDEN_SHOWS"] = "2" });
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains("Key Vault access not effective yet (attempt 1/10)", run.Output, StringComparison.Ordinal);
        Assert.Contains("Key Vault access not effective yet (attempt 2/10)", run.Output, StringComparison.Ordinal);
        Assert.Contains("generated a new operator root token", run.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("false")]
    [InlineData("False")]
    [InlineData("FALSE")]
    [InlineData("0")]
    public void NoDataAccess_NoToken_TriesOnce_FailsSayingWhatToDo(string grant)
    {
        var run = Run(new() { ["FAKE_AZ_FORBIDDEN_SHOWS"] = "99", ["KEYBRAKE_GRANT_DEPLOYER_ACCESS"] = grant });
        Assert.Equal(1, run.ExitCode);
        Assert.Single(Calls, c => c.StartsWith("keyvault secret show", StringComparison.Ordinal));
        Assert.Contains("azd env set KEYBRAKE_GRANT_DEPLOYER_ACCESS true && azd provision", run.Output, StringComparison.Ordinal);
        Assert.Contains("azd hooks run postprovision", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void WriteRefused_FailsSayingWhatToDo()
    {
        var run = Run(new() { ["FAKE_AZ_SET_FORBIDDEN"] = "1" });
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("could not write 'keybrake-root-token'", run.Output, StringComparison.Ordinal);
        Assert.Contains("azd hooks run postprovision", run.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("true")]
    [InlineData("True")]
    [InlineData("TRUE")]
    [InlineData("1")]
    public void Skip_IsReadInAnyCase(string skip)
    {
        var run = Run(new() { ["KEYBRAKE_SKIP_ROOT_TOKEN"] = skip });
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains("not checking the root token", run.Output, StringComparison.Ordinal);
        Assert.Empty(Calls);
    }

    [Fact]
    public void SkipFalse_StillChecks()
    {
        var run = Run(new() { ["KEYBRAKE_SKIP_ROOT_TOKEN"] = "False", ["FAKE_AZ_SECRET"] = "exists" });
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.NotEmpty(Calls);
    }

    private (int ExitCode, string Output) Run(Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Script);
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("KEYBRAKE_", StringComparison.Ordinal) || k.StartsWith("AZURE_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }

        start.Environment["PATH"] = $"{Path.Combine(_directory, "bin")}:{start.Environment["PATH"]}";
        start.Environment["AZURE_KEY_VAULT_NAME"] = "kv-test";
        start.Environment["AZURE_RESOURCE_GROUP"] = "rg-test";
        start.Environment["KEYBRAKE_HOOK_RETRY_SECONDS"] = "0";
        start.Environment["FAKE_AZ_LOG"] = Log;
        start.Environment["FAKE_AZ_DIR"] = _directory;
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(60)), "the hook did not finish within 60 s");
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex Hex64();
}
