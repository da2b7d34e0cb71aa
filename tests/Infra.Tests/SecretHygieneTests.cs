using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Keybrake.Infra.Tests;

/// <summary>No secret goes through the templates: not in parameters, variables or outputs, and no key is ever read.</summary>
public sealed partial class SecretHygieneTests
{
    private static readonly string[] AllowedKeyOutputs = ["AZURE_KEY_VAULT_NAME", "AZURE_KEY_VAULT_ENDPOINT"];

    // Operator settings whose names say "key" because they are about vault keys, not because they hold one.
    private static readonly string[] VaultKeyLimitParameters =
        ["keysMaxDailyUsdCap", "keysMaxAllowedEndpoints", "keysMaxMetadataEntries", "proxyKeyCacheMilliseconds"];

    public static TheoryData<string> ForbiddenFragments => new()
    {
        "AccountKey=",
        "SharedAccessKey=",
        "SharedAccessSignature=",
        "InstrumentationKey=",
        "listKeys(",
        "listSecrets(",
        "listConnectionStrings(",
        "listCredentials(",
        "listAccountSas(",
        "listServiceSas(",
    };

    [Theory]
    [MemberData(nameof(ForbiddenFragments))]
    public void CompiledTemplate_NeverContains(string fragment) =>
        Assert.DoesNotContain(fragment, ArmTemplate.MainJsonText, StringComparison.OrdinalIgnoreCase);

    [Fact]
    public void NoTemplate_CallsAnyListFunction() =>
        Assert.DoesNotMatch(ListFunction(), ArmTemplate.MainJsonText);

    [Fact]
    public void OutputNames_DoNotLookSecret()
    {
        var offenders = ArmTemplate.Main.SelfAndDescendants()
            .SelectMany(t => t.Outputs.Select(o => o.Key))
            .Where(name => SecretName().IsMatch(name) && !AllowedKeyOutputs.Contains(name));
        Assert.Empty(offenders);
    }

    [Fact]
    public void ParameterNames_DoNotLookSecret()
    {
        // Vendor secrets and the root token never pass through Bicep: no parameter may carry one.
        var offenders = ArmTemplate.Main.SelfAndDescendants()
            .SelectMany(t => t.Parameters.Select(p => p.Key))
            .Where(name => !VaultKeyLimitParameters.Contains(name))
            .Where(name => SecretName().IsMatch(name.Replace("keyVault", "", StringComparison.OrdinalIgnoreCase)));
        Assert.Empty(offenders);
    }

    [Fact]
    public void VaultKeyLimitParameters_AreStringsWithNoDefault_NotSecrets()
    {
        Assert.All(VaultKeyLimitParameters, name =>
        {
            Assert.Equal("string", Json.String(ArmTemplate.Main.Parameters[name]?["type"], name));
            Assert.Equal("", Json.String(ArmTemplate.Main.Parameters[name]?["defaultValue"], name));
        });
    }

    [Fact]
    public void OnlyTheAlertsWebhookUrl_IsSecure_NoKeybrakeSecretIsPassedIn()
    {
        // The webhook URL is not a Keybrake secret (its signing secret is in Key Vault), but a chat
        // webhook's URL embeds its credential, so it is kept out of deployment history.
        var secure = ArmTemplate.Main.SelfAndDescendants()
            .SelectMany(t => t.Parameters)
            .Where(p => ((string?)p.Value?["type"] ?? "").StartsWith("secure", StringComparison.OrdinalIgnoreCase))
            .Select(p => p.Key)
            .Distinct();
        Assert.Equal(["alertsWebhookUrl"], secure);
    }

    [Fact]
    public void ParameterDefaults_VariablesAndOutputs_HoldNoSecretLookingValue()
    {
        var values = ArmTemplate.Main.SelfAndDescendants().SelectMany(t =>
            t.Parameters.Select(p => p.Value?["defaultValue"])
                .Concat(t.Variables.Select(v => v.Value))
                .Concat(t.Outputs.Select(o => o.Value?["value"])));
        var offenders = values.SelectMany(Strings).Where(s => SecretValue().IsMatch(s));
        Assert.Empty(offenders);
    }

    [Fact]
    public void ParameterFile_OnlyReferencesAzdEnvironmentValues()
    {
        Assert.All(ParameterFile.Parameters, p =>
            Assert.Matches(EnvironmentReference(), Json.String(p.Value?["value"], p.Key)));
    }

    private static IEnumerable<string> Strings(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => [s],
        JsonObject o => o.SelectMany(p => Strings(p.Value)),
        JsonArray a => a.SelectMany(Strings),
        _ => [],
    };

    [GeneratedRegex("secret|password|passwd|token|key|credential|connectionstring", RegexOptions.IgnoreCase)]
    private static partial Regex SecretName();

    // Stripe (sk_/rk_ live/test, whsec_), Resend (re_...), Twilio (32-hex auth token or SID), storage
    // connection strings and SAS signatures.
    [GeneratedRegex(@"\b(sk|rk)_(live|test)_|\bwhsec_|\bre_[A-Za-z0-9_]{16,}|\b(AC|SK)?[0-9a-f]{32}\b|AccountKey=|SharedAccessKey=|[?&]sig=", RegexOptions.IgnoreCase)]
    private static partial Regex SecretValue();

    [GeneratedRegex(@"\blist[A-Za-z]*\(")]
    private static partial Regex ListFunction();

    [GeneratedRegex(@"^\$\{[A-Z][A-Z0-9_]*(=[^}]*)?\}$")]
    private static partial Regex EnvironmentReference();
}
