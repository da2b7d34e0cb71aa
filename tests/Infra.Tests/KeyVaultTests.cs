using System.Text.Json.Nodes;

namespace Keybrake.Infra.Tests;

public sealed class KeyVaultTests
{
    private static JsonObject Properties =>
        (JsonObject)ArmTemplate.Main.Module("keyvault").Single("Microsoft.KeyVault/vaults")["properties"]!;

    [Fact]
    public void Authorization_IsRbacNotAccessPolicies()
    {
        Assert.True(Json.Bool(Properties["enableRbacAuthorization"], "enableRbacAuthorization"));
        Assert.True(Properties["accessPolicies"] is null or JsonArray { Count: 0 }, "no access policies");
    }

    [Fact]
    public void SoftDelete_IsOn() =>
        Assert.True(Json.Bool(Properties["enableSoftDelete"], "enableSoftDelete"));

    [Fact]
    public void PurgeProtection_IsAParameter_OffByDefault_AndNeverSentAsFalse()
    {
        // Key Vault refuses an explicit false on a vault that has it on: off means "leave it out".
        Assert.Equal("[if(parameters('enablePurgeProtection'), true(), null())]",
            Json.String(Properties["enablePurgeProtection"], "enablePurgeProtection"));
        Assert.False(Json.Bool(ArmTemplate.Main.Parameters["enablePurgeProtection"]?["defaultValue"], "enablePurgeProtection default"));
        Assert.Equal("[parameters('enablePurgeProtection')]", ArmTemplate.Main.Module("keyvault").ParameterValue("enablePurgeProtection"));
        Assert.Equal("${KEYBRAKE_PURGE_PROTECTION=false}", ParameterFile.Value("enablePurgeProtection"));
    }

    [Fact]
    public void SoftDeleteRetention_IsTheMaximum() =>
        Assert.Equal(90, Json.Int(Properties["softDeleteRetentionInDays"], "softDeleteRetentionInDays"));

    [Fact]
    public void NoSecret_IsDeclaredInBicep()
    {
        var secrets = ArmTemplate.Main.SelfAndDescendants()
            .SelectMany(t => t.OfType("Microsoft.KeyVault/vaults/secrets"));
        Assert.Empty(secrets);
    }
}
