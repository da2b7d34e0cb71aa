using System.Text.Json.Nodes;

namespace Keybrake.Infra.Tests;

public sealed class FunctionAppTests
{
    private const string IdentityClientId = "[parameters('identityClientId')]";

    private static readonly ArmTemplate Api = ArmTemplate.Main.Module("api");

    private static JsonObject Site => Api.Single("Microsoft.Web/sites");

    private static JsonObject SiteProperties => (JsonObject)Site["properties"]!;

    /// <summary>The expression behind config/appsettings: union(operator settings, webhook URL, platform settings).</summary>
    internal static ArmExpression AppSettingsExpression
    {
        get
        {
            var config = Api.OfType("Microsoft.Web/sites/config")
                .Single(c => Api.Resolve(c["name"]).EndsWith("'appsettings')", StringComparison.Ordinal));
            return ArmExpression.ParseValue(Json.String(config["properties"], "appsettings properties"));
        }
    }

    /// <summary>Every app setting the function module writes by name (as template values), and the opaque parts.</summary>
    internal static (IReadOnlyDictionary<string, string> Named, IReadOnlyList<string> Opaque) AppSettingsByName
    {
        get
        {
            var opaque = new List<string>();
            var named = AppSettingsExpression.ObjectKeys(o => opaque.Add(o.Text))
                .ToDictionary(p => p.Key, p => p.Value.AsTemplateValue, StringComparer.Ordinal);
            return (named, opaque);
        }
    }

    private static IReadOnlyDictionary<string, string> AppSettings => AppSettingsByName.Named;

    [Fact]
    public void Plan_IsFlexConsumptionOnLinux()
    {
        var plan = Api.Single("Microsoft.Web/serverfarms");
        Assert.Equal("FC1", Json.String(plan["sku"]?["name"], "sku.name"));
        Assert.Equal("FlexConsumption", Json.String(plan["sku"]?["tier"], "sku.tier"));
        Assert.True(Json.Bool(plan["properties"]?["reserved"], "reserved (Linux)"));
        Assert.Equal("functionapp,linux", Json.String(Site["kind"], "site kind"));
    }

    [Fact]
    public void Runtime_IsDotnetIsolated10()
    {
        var runtime = SiteProperties["functionAppConfig"]?["runtime"];
        Assert.Equal("dotnet-isolated", Json.String(runtime?["name"], "runtime.name"));
        Assert.Equal("10.0", Json.String(runtime?["version"], "runtime.version"));
    }

    [Fact]
    public void Site_IsHttpsOnly() =>
        Assert.True(Json.Bool(SiteProperties["httpsOnly"], "httpsOnly"));

    [Fact]
    public void Site_MinimumTlsVersion_Is12() =>
        Assert.Equal("1.2", Json.String(SiteProperties["siteConfig"]?["minTlsVersion"], "siteConfig.minTlsVersion"));

    [Theory]
    [InlineData("ftp")]
    [InlineData("scm")]
    public void BasicPublishingCredentials_AreDisabled(string policy)
    {
        var matching = Api.OfType("Microsoft.Web/sites/basicPublishingCredentialsPolicies")
            .Where(p => Api.Resolve(p["name"]).EndsWith($"'{policy}')", StringComparison.Ordinal))
            .ToList();
        var single = Assert.Single(matching);
        Assert.False(Json.Bool(single["properties"]?["allow"], $"{policy} allow"));
    }

    [Fact]
    public void Site_RunsAsTheUserAssignedIdentityOnly()
    {
        Assert.Equal("UserAssigned", Json.String(Site["identity"]?["type"], "identity.type"));
        var identities = (JsonObject)Site["identity"]!["userAssignedIdentities"]!;
        var identityKey = Assert.Single(identities).Key; // Bicep writes '${identityId}' as format('{0}', ...)
        Assert.Contains(identityKey, new[] { "[parameters('identityId')]", "[format('{0}', parameters('identityId'))]" });
        Assert.Contains("'identity')", Api.ParameterValue("identityId"), StringComparison.Ordinal);
        Assert.EndsWith(".outputs.id.value]", Api.ParameterValue("identityId"), StringComparison.Ordinal);
        Assert.Contains("'identity')", Api.ParameterValue("identityClientId"), StringComparison.Ordinal);
        Assert.EndsWith(".outputs.clientId.value]", Api.ParameterValue("identityClientId"), StringComparison.Ordinal);
    }

    [Fact]
    public void DeploymentPackage_IsABlobContainerReadWithTheIdentity()
    {
        var storage = SiteProperties["functionAppConfig"]?["deployment"]?["storage"];
        Assert.Equal("blobContainer", Json.String(storage?["type"], "deployment.storage.type"));
        Assert.Contains("primaryEndpoints.blob", Json.String(storage?["value"], "deployment.storage.value"), StringComparison.Ordinal);
        var authentication = storage?["authentication"];
        Assert.Equal("UserAssignedIdentity", Json.String(authentication?["type"], "authentication.type"));
        Assert.Equal("[parameters('identityId')]",
            Json.String(authentication?["userAssignedIdentityResourceId"], "userAssignedIdentityResourceId"));
    }

    [Theory]
    [InlineData("AZURE_CLIENT_ID", IdentityClientId)]
    [InlineData("AzureWebJobsStorage__credential", "managedidentity")]
    [InlineData("AzureWebJobsStorage__clientId", IdentityClientId)]
    [InlineData("APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
        "[format('ClientId={0};Authorization=AAD', parameters('identityClientId'))]")]
    public void AppSetting_HasExactValue(string name, string expected) =>
        Assert.Equal(expected, AppSettings[name]);

    [Theory]
    [InlineData("AzureWebJobsStorage__blobServiceUri", "Microsoft.Storage/storageAccounts", ".primaryEndpoints.blob]")]
    [InlineData("AzureWebJobsStorage__queueServiceUri", "Microsoft.Storage/storageAccounts", ".primaryEndpoints.queue]")]
    [InlineData("AzureWebJobsStorage__tableServiceUri", "Microsoft.Storage/storageAccounts", ".primaryEndpoints.table]")]
    [InlineData("Tables__ServiceUri", "Microsoft.Storage/storageAccounts", ".primaryEndpoints.table]")]
    [InlineData("KeyVault__Uri", "Microsoft.KeyVault/vaults", ".vaultUri]")]
    [InlineData("APPLICATIONINSIGHTS_CONNECTION_STRING", "Microsoft.Insights/components", ".ConnectionString]")]
    public void AppSetting_ReadsTheResourceProperty(string name, string resourceType, string propertySuffix)
    {
        var value = AppSettings[name];
        Assert.StartsWith($"[reference(resourceId('{resourceType}'", value, StringComparison.Ordinal);
        Assert.EndsWith(propertySuffix, value, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("AzureWebJobsStorage")] // a connection string: host storage must use the identity
    [InlineData("Tables__ConnectionString")] // local only; Azure uses Tables__ServiceUri + identity
    [InlineData("FUNCTIONS_WORKER_RUNTIME")] // rejected by Flex Consumption: runtime is in functionAppConfig
    [InlineData("FUNCTIONS_EXTENSION_VERSION")]
    [InlineData("WEBSITE_RUN_FROM_PACKAGE")]
    [InlineData("WEBSITE_CONTENTAZUREFILECONNECTIONSTRING")]
    [InlineData("APPINSIGHTS_INSTRUMENTATIONKEY")]
    public void AppSetting_IsAbsent(string name) =>
        Assert.False(AppSettings.ContainsKey(name), $"{name} must not be an app setting");

    [Fact]
    public void AppSettings_CarryNoVendorSecret()
    {
        var secretSettings = AppSettings.Select(s => s.Key)
            .Where(k => k.StartsWith("Secrets__", StringComparison.OrdinalIgnoreCase));
        Assert.Empty(secretSettings);
    }

    [Fact]
    public void AppSettings_AreOperatorSettingsThenTheWebhookThenPlatformSettings_PlatformWins()
    {
        var union = AppSettingsExpression;
        Assert.Equal("union", union.Function);
        Assert.Equal(3, union.Arguments.Count);
        Assert.Equal("parameters('operatorSettings')", union.Arguments[0].Text);
        Assert.Equal("if(empty(parameters('alertsWebhookUrl')), createObject(), createObject('Alerts__WebhookUrl', parameters('alertsWebhookUrl')))",
            union.Arguments[1].Text);
        var platform = union.Arguments[2];
        Assert.Equal("createObject", platform.Function);
        Assert.Contains(platform.Arguments, a => a.Literal == "AZURE_CLIENT_ID");
        Assert.Equal(["parameters('operatorSettings')"], AppSettingsByName.Opaque);
        Assert.Equal("[variables('operatorSettings')]", Api.ParameterValue("operatorSettings"));
    }

    [Fact]
    public void AlertsWebhookUrl_IsASecureParameterAllTheWay()
    {
        // A chat webhook URL carries its own credential: kept out of deployment history in both templates.
        Assert.Equal("securestring", Json.String(ArmTemplate.Main.Parameters["alertsWebhookUrl"]?["type"], "main alertsWebhookUrl type"));
        Assert.Equal("securestring", Json.String(Api.Parameters["alertsWebhookUrl"]?["type"], "api alertsWebhookUrl type"));
        Assert.Equal("[parameters('alertsWebhookUrl')]", Api.ParameterValue("alertsWebhookUrl"));
    }

    [Fact]
    public void Site_JoinsTheSubnetOnlyWithNetworkRestriction()
    {
        Assert.Equal("[if(empty(parameters('virtualNetworkSubnetId')), null(), parameters('virtualNetworkSubnetId'))]",
            Json.String(SiteProperties["virtualNetworkSubnetId"], "virtualNetworkSubnetId"));
        var passed = Api.Deployment!["properties"]?["parameters"]?["virtualNetworkSubnetId"]?.ToString();
        Assert.StartsWith("[if(parameters('restrictNetworkAccess'), createObject('value', reference(", passed, StringComparison.Ordinal);
        Assert.EndsWith("'network'), '2025-04-01').outputs.appSubnetId.value), createObject('value', ''))]", passed, StringComparison.Ordinal);
    }

    [Fact]
    public void Site_HasTheAzdServiceTag()
    {
        var tags = Api.Resolve(Site["tags"]);
        Assert.Contains("'azd-service-name', parameters('serviceName')", tags, StringComparison.Ordinal);
        Assert.Equal("api", Api.ParameterValue("serviceName"));
    }

    [Fact]
    public void FunctionApp_IsCreatedAfterItsRoleAssignments()
    {
        var dependsOn = Api.Deployment!["dependsOn"]?.AsArray().Select(d => d!.ToString()) ?? [];
        Assert.Contains(dependsOn, d => d.Contains("'rbac')", StringComparison.Ordinal));
    }
}
