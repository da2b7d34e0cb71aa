using System.Text.Json.Nodes;

namespace Keybrake.Infra.Tests;

public sealed class StorageTests
{
    private static readonly ArmTemplate Storage = ArmTemplate.Main.Module("storage");

    private static JsonObject Properties =>
        (JsonObject)Storage.Single("Microsoft.Storage/storageAccounts")["properties"]!;

    [Fact]
    public void SharedKeyAccess_IsDisabled() =>
        Assert.False(Json.Bool(Properties["allowSharedKeyAccess"], "allowSharedKeyAccess"));

    [Fact]
    public void BlobPublicAccess_IsDisabled() =>
        Assert.False(Json.Bool(Properties["allowBlobPublicAccess"], "allowBlobPublicAccess"));

    [Fact]
    public void Traffic_IsHttpsOnly() =>
        Assert.True(Json.Bool(Properties["supportsHttpsTrafficOnly"], "supportsHttpsTrafficOnly"));

    [Fact]
    public void MinimumTlsVersion_Is12() =>
        Assert.Equal("TLS1_2", Json.String(Properties["minimumTlsVersion"], "minimumTlsVersion"));

    [Fact]
    public void DeploymentContainer_IsPrivate()
    {
        var container = Storage.Single("Microsoft.Storage/storageAccounts/blobServices/containers");
        Assert.Equal("None", Json.String(container["properties"]?["publicAccess"], "publicAccess"));
    }

    [Fact]
    public void Tables_AreNotDeclared_TheAppCreatesThemAtStartUp()
    {
        var tableResources = ArmTemplate.Main.SelfAndDescendants()
            .SelectMany(t => t.Resources)
            .Where(r => ((string?)r["type"] ?? "").Contains("tableServices", StringComparison.OrdinalIgnoreCase));
        Assert.Empty(tableResources);
    }

    [Fact]
    public void WorkQueues_AreDeclaredWithTheirPoisonQueues_UnderTheNamesTheAppReads()
    {
        var queues = Storage.Single("Microsoft.Storage/storageAccounts/queueServices/queues");
        Assert.Contains("-poison", queues.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal("keybrake-reconcile", Json.String(ArmTemplate.Main.Variables["reconcileQueueName"], "reconcileQueueName"));
        Assert.Equal("keybrake-nightly", Json.String(ArmTemplate.Main.Variables["nightlyQueueName"], "nightlyQueueName"));
        var storageModule = ArmTemplate.Main.Resources.Single(r => (string?)r["name"] == "storage");
        Assert.Equal("""["[variables('reconcileQueueName')]","[variables('nightlyQueueName')]"]""",
            storageModule["properties"]?["parameters"]?["queueNames"]?["value"]?.ToJsonString(new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
        var app = ArmTemplate.Main.Resources.Single(r => (string?)r["name"] == "api");
        Assert.Equal("[variables('reconcileQueueName')]", Json.String(app["properties"]?["parameters"]?["reconcileQueueName"]?["value"], "reconcileQueueName"));
        Assert.Equal("[variables('nightlyQueueName')]", Json.String(app["properties"]?["parameters"]?["nightlyQueueName"]?["value"], "nightlyQueueName"));
    }
}
