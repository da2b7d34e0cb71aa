namespace Keybrake.Infra.Tests;

/// <summary>What azd needs from the template: scope, names, tags, parameters and outputs.</summary>
public sealed class AzdLayoutTests
{
    private static readonly ArmTemplate Main = ArmTemplate.Main;

    [Fact]
    public void Template_IsDeployedAtSubscriptionScope() =>
        Assert.Contains("subscriptionDeploymentTemplate.json", Json.String(Main.Root["$schema"], "$schema"), StringComparison.Ordinal);

    [Theory]
    [InlineData("environmentName", "string")]
    [InlineData("location", "string")]
    [InlineData("principalId", "string")]
    [InlineData("principalType", "string")]
    [InlineData("grantDeployerDataAccess", "bool")]
    [InlineData("enablePurgeProtection", "bool")]
    [InlineData("restrictNetworkAccess", "bool")]
    [InlineData("allowedIpAddresses", "string")]
    public void Parameter_IsDeclared(string name, string type) =>
        Assert.Equal(type, Json.String(Main.Parameters[name]?["type"], name));

    [Theory]
    [InlineData("AZURE_LOCATION")]
    [InlineData("AZURE_TENANT_ID")]
    [InlineData("AZURE_RESOURCE_GROUP")]
    [InlineData("SERVICE_API_NAME")]
    [InlineData("SERVICE_API_URI")]
    [InlineData("AZURE_KEY_VAULT_NAME")]
    [InlineData("AZURE_KEY_VAULT_ENDPOINT")]
    public void Output_IsDeclared(string name) =>
        Assert.Equal("string", Json.String(Main.Outputs[name]?["type"], name));

    [Fact]
    public void ServiceApiUri_IsTheFunctionAppHttpsUrl()
    {
        Assert.Contains("'api')", Json.String(Main.Outputs["SERVICE_API_URI"]?["value"], "SERVICE_API_URI"), StringComparison.Ordinal);
        var uri = Json.String(Main.Module("api").Outputs["uri"]?["value"], "api uri output");
        Assert.StartsWith("[format('https://{0}', reference(resourceId('Microsoft.Web/sites'", uri, StringComparison.Ordinal);
        Assert.EndsWith(".defaultHostName)]", uri, StringComparison.Ordinal);
    }

    [Fact]
    public void ResourceNames_DeriveFromSubscriptionEnvironmentAndLocation() =>
        Assert.Equal(
            "[toLower(uniqueString(subscription().id, parameters('environmentName'), parameters('location')))]",
            Json.String(Main.Variables["resourceToken"], "resourceToken"));

    [Fact]
    public void ResourceGroup_IsCreatedWithTheAzdEnvironmentTag()
    {
        var tag = Assert.Single(Main.Variables["tags"]!.AsObject());
        Assert.Equal("azd-env-name", tag.Key);
        Assert.Equal("[parameters('environmentName')]", Json.String(tag.Value, "azd-env-name"));
        var group = Main.Single("Microsoft.Resources/resourceGroups");
        Assert.Equal("[variables('tags')]", Json.String(group["tags"], "resource group tags"));
    }

    [Fact]
    public void AzureYaml_DeclaresTheFunctionServiceAndTheBicepInfra()
    {
        var yaml = File.ReadAllText(Path.Combine(ArmTemplate.RepositoryRoot, "azure.yaml"));
        Assert.Contains("  api:", yaml, StringComparison.Ordinal);
        Assert.Contains("project: ./src/Functions", yaml, StringComparison.Ordinal);
        Assert.Contains("language: dotnet", yaml, StringComparison.Ordinal);
        Assert.Contains("host: function", yaml, StringComparison.Ordinal);
        Assert.Contains("path: infra/bicep", yaml, StringComparison.Ordinal);
        Assert.Contains("infra/scripts/postprovision.sh", yaml, StringComparison.Ordinal);
    }

    [Fact]
    public void AzureYaml_DeclaresTheAzdVersionItNeeds()
    {
        var yaml = File.ReadAllText(Path.Combine(ArmTemplate.RepositoryRoot, "azure.yaml"));
        Assert.Matches(@"(?m)^requiredVersions:\n  azd: "">= 1\.\d+\.\d+""$", yaml);
    }

    [Fact]
    public void AzureYaml_PostprovisionFailure_DoesNotStopTheDeploy()
    {
        // The hook prints what to do; the code is deployed anyway (the operator API answers 401 until
        // the token exists), instead of `azd up` ending before deploy.
        var yaml = File.ReadAllText(Path.Combine(ArmTemplate.RepositoryRoot, "azure.yaml"));
        Assert.Contains("    continueOnError: true", yaml, StringComparison.Ordinal);
        Assert.DoesNotContain("continueOnError: false", yaml, StringComparison.Ordinal);
    }

    [Fact]
    public void NuGetAuditAdvisories_AreWarningsNotErrors_AndNotSilenced()
    {
        // A new advisory must not fail `azd package` of code that built yesterday, and must still be printed.
        var props = System.Xml.Linq.XDocument.Load(Path.Combine(ArmTemplate.RepositoryRoot, "Directory.Build.props"));
        string Property(string name) => string.Join(";", props.Descendants(name).Select(e => e.Value));
        Assert.Equal("true", Property("TreatWarningsAsErrors"));
        var notAsErrors = Property("WarningsNotAsErrors").Split(';', StringSplitOptions.TrimEntries);
        Assert.All(new[] { "NU1901", "NU1902", "NU1903", "NU1904" }, code => Assert.Contains(code, notAsErrors));
        Assert.DoesNotContain("NU190", Property("NoWarn"), StringComparison.Ordinal);
        Assert.DoesNotContain("NuGetAudit>false", File.ReadAllText(Path.Combine(ArmTemplate.RepositoryRoot, "Directory.Build.props")), StringComparison.Ordinal);
    }

    [Fact]
    public void PostprovisionHook_IsAStrictBashScript()
    {
        var script = File.ReadAllText(Path.Combine(ArmTemplate.RepositoryRoot, "infra", "scripts", "postprovision.sh"));
        Assert.StartsWith("#!/usr/bin/env bash\n", script, StringComparison.Ordinal);
        Assert.Contains("set -euo pipefail", script, StringComparison.Ordinal);
        Assert.Contains("keybrake-root-token", script, StringComparison.Ordinal);
    }
}
