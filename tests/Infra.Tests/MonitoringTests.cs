namespace Keybrake.Infra.Tests;

public sealed class MonitoringTests
{
    private static readonly ArmTemplate Monitoring = ArmTemplate.Main.Module("monitoring");

    [Fact]
    public void ApplicationInsights_LocalAuth_IsDisabled()
    {
        var properties = Monitoring.Single("Microsoft.Insights/components")["properties"];
        Assert.True(Json.Bool(properties?["DisableLocalAuth"], "DisableLocalAuth"));
    }

    [Fact]
    public void ApplicationInsights_IsWorkspaceBased()
    {
        Monitoring.Single("Microsoft.OperationalInsights/workspaces");
        var properties = Monitoring.Single("Microsoft.Insights/components")["properties"];
        var workspace = Json.String(properties?["WorkspaceResourceId"], "WorkspaceResourceId");
        Assert.Contains("Microsoft.OperationalInsights/workspaces", workspace, StringComparison.Ordinal);
    }
}
