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
    public void PurgeProtection_IsOn() =>
        Assert.True(Json.Bool(Properties["enablePurgeProtection"], "enablePurgeProtection"));

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
