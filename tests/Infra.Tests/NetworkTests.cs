using System.Text.Json.Nodes;

namespace Keybrake.Infra.Tests;

/// <summary>The optional network restriction: off by default; when on, Storage and Key Vault admit only the app's subnet.</summary>
public sealed class NetworkTests
{
    private static readonly ArmTemplate Main = ArmTemplate.Main;

    public static TheoryData<string, string> Restricted => new()
    {
        { "storage", "Microsoft.Storage/storageAccounts" },
        { "keyvault", "Microsoft.KeyVault/vaults" },
    };

    [Fact]
    public void Restriction_IsOffByDefault()
    {
        Assert.False(Json.Bool(Main.Parameters["restrictNetworkAccess"]?["defaultValue"], "restrictNetworkAccess default"));
        Assert.Equal("${KEYBRAKE_RESTRICT_NETWORK=false}", ParameterFile.Value("restrictNetworkAccess"));
        Assert.Equal("${KEYBRAKE_ALLOWED_IP_ADDRESSES=}", ParameterFile.Value("allowedIpAddresses"));
    }

    [Fact]
    public void VirtualNetwork_IsDeployedOnlyWithTheRestriction()
    {
        var network = Main.OfType("Microsoft.Resources/deployments").Single(d => (string?)d["name"] == "network");
        Assert.Equal("[parameters('restrictNetworkAccess')]", Json.String(network["condition"], "network condition"));
    }

    [Fact]
    public void AppSubnet_IsDelegatedToFlexConsumption_WithStorageAndKeyVaultEndpoints()
    {
        var vnet = Main.Module("network").Single("Microsoft.Network/virtualNetworks");
        var subnet = Assert.Single(vnet["properties"]!["subnets"]!.AsArray())!;
        Assert.Equal("app", Json.String(subnet["name"], "subnet name"));
        var delegation = Assert.Single(subnet["properties"]!["delegations"]!.AsArray())!;
        Assert.Equal("Microsoft.App/environments", Json.String(delegation["properties"]?["serviceName"], "delegation"));
        Assert.Equal(["Microsoft.Storage", "Microsoft.KeyVault"],
            subnet["properties"]!["serviceEndpoints"]!.AsArray().Select(e => Json.String(e?["service"], "service")));
    }

    [Theory]
    [MemberData(nameof(Restricted))]
    public void Firewall_AllowsEverythingWhenOff_AndOnlyTheSubnetAndListedIpsWhenOn(string module, string type)
    {
        var template = Main.Module(module);
        Assert.Equal("[not(empty(parameters('virtualNetworkSubnetId')))]", Json.String(template.Variables["restricted"], "restricted"));
        var acls = ArmExpression.ParseValue(Json.String(template.Single(type)["properties"]?["networkAcls"], "networkAcls"));
        Assert.Equal("if", acls.Function);
        Assert.Equal("variables('restricted')", acls.Arguments[0].Text);

        var on = acls.Arguments[1].ObjectKeys(_ => Assert.Fail("opaque networkAcls"));
        Assert.Equal("Deny", on["defaultAction"].Literal);
        Assert.Equal("AzureServices", on["bypass"].Literal);
        Assert.StartsWith("createArray(createObject('id', parameters('virtualNetworkSubnetId')", on["virtualNetworkRules"].Text, StringComparison.Ordinal);
        Assert.StartsWith("map(parameters('allowedIpRanges')", on["ipRules"].Text, StringComparison.Ordinal);

        var off = acls.Arguments[2].ObjectKeys(_ => Assert.Fail("opaque networkAcls"));
        Assert.Equal("Allow", off["defaultAction"].Literal);

        var passed = template.Deployment!["properties"]?["parameters"]?["virtualNetworkSubnetId"]?.ToString();
        Assert.StartsWith("[if(parameters('restrictNetworkAccess'), createObject('value', reference(", passed, StringComparison.Ordinal);
        Assert.Equal("[variables('allowedIpRanges')]", template.ParameterValue("allowedIpRanges"));
    }

    [Fact]
    public void AllowedIpAddresses_AreSplitOnCommasAndTrimmed() =>
        Assert.Equal("[filter(map(split(parameters('allowedIpAddresses'), ','), lambda('ip', trim(lambdaVariables('ip')))), lambda('ip', not(empty(lambdaVariables('ip')))))]",
            Json.String(Main.Variables["allowedIpRanges"], "allowedIpRanges"));
}
