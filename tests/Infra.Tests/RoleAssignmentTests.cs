using System.Text.RegularExpressions;

namespace Keybrake.Infra.Tests;

public sealed partial class RoleAssignmentTests
{
    private const string StorageTableDataContributor = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3";
    private const string StorageBlobDataOwner = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b";
    private const string StorageQueueDataContributor = "974c5e8b-45b9-4653-ba55-5f855dd0fb88";
    private const string KeyVaultSecretsUser = "4633458b-17de-408a-b874-0445c86b69e6";
    private const string KeyVaultSecretsOfficer = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";
    private const string MonitoringMetricsPublisher = "3913510d-42f4-4e42-8a64-420c390055eb";

    private const string StorageAccounts = "Microsoft.Storage/storageAccounts";
    private const string Vaults = "Microsoft.KeyVault/vaults";
    private const string Components = "Microsoft.Insights/components";

    private const string IdentityPrincipal = "parameters('identityPrincipalId')";
    private const string DeployerPrincipal = "parameters('deployerPrincipalId')";

    private static readonly ArmTemplate Rbac = ArmTemplate.Main.Module("rbac");

    private static IReadOnlyList<Assignment> Assignments { get; } = Rbac
        .OfType("Microsoft.Authorization/roleAssignments")
        .Select(r => new Assignment(
            RoleGuid: Guid().Match(Rbac.Resolve(r["properties"]?["roleDefinitionId"])).Value,
            PrincipalId: Rbac.Resolve(r["properties"]?["principalId"]),
            PrincipalType: Json.String(r["properties"]?["principalType"], "principalType"),
            Scope: Rbac.Resolve(r["scope"]),
            Name: Rbac.Resolve(r["name"]),
            Condition: r["condition"] is null ? null : Rbac.Resolve(r["condition"])))
        .ToList();

    public static TheoryData<string, string> AppIdentityRoles => new()
    {
        { StorageTableDataContributor, StorageAccounts },
        { StorageBlobDataOwner, StorageAccounts },
        { StorageQueueDataContributor, StorageAccounts },
        { KeyVaultSecretsUser, Vaults },
        { MonitoringMetricsPublisher, Components },
    };

    public static TheoryData<string, string> DeployerRoles => new()
    {
        { StorageTableDataContributor, StorageAccounts },
        { StorageBlobDataOwner, StorageAccounts },
        { KeyVaultSecretsOfficer, Vaults },
    };

    [Fact]
    public void AppIdentity_GetsExactlyTheRolesTheAppUses()
    {
        // Queue data for the timers' work queues (the app enqueues, the queue triggers read and move to poison); see rbac.bicep.
        var roles = Assignments.Where(a => a.PrincipalId == IdentityPrincipal).Select(a => a.RoleGuid).Order();
        Assert.Equal(
            new[] { StorageTableDataContributor, StorageBlobDataOwner, StorageQueueDataContributor, KeyVaultSecretsUser, MonitoringMetricsPublisher }.Order(),
            roles);
    }

    [Theory]
    [MemberData(nameof(AppIdentityRoles))]
    public void AppIdentityRole_IsAServicePrincipalAssignmentOnTheRightScope(string roleGuid, string scopeType)
    {
        var assignment = Assert.Single(Assignments, a => a.PrincipalId == IdentityPrincipal && a.RoleGuid == roleGuid);
        Assert.Equal("ServicePrincipal", assignment.PrincipalType);
        Assert.Null(assignment.Condition);
        Assert.StartsWith($"resourceId('{scopeType}', ", assignment.Scope, StringComparison.Ordinal);
        AssertDeterministicName(assignment, scopeType);
    }

    [Fact]
    public void AppIdentityPrincipal_IsTheManagedIdentity()
    {
        var passed = Rbac.ParameterValue("identityPrincipalId");
        Assert.Contains("'Microsoft.Resources/deployments', 'identity')", passed, StringComparison.Ordinal);
        Assert.EndsWith(".outputs.principalId.value]", passed, StringComparison.Ordinal);

        var identity = ArmTemplate.Main.Module("identity");
        identity.Single("Microsoft.ManagedIdentity/userAssignedIdentities");
        var output = Json.String(identity.Outputs["principalId"]?["value"], "identity principalId output");
        Assert.StartsWith("[reference(resourceId('Microsoft.ManagedIdentity/userAssignedIdentities'", output, StringComparison.Ordinal);
        Assert.EndsWith(".principalId]", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Deployer_GetsOnlyDataRoles()
    {
        var roles = Assignments.Where(a => a.PrincipalId == DeployerPrincipal).Select(a => a.RoleGuid).Order();
        Assert.Equal(new[] { StorageTableDataContributor, StorageBlobDataOwner, KeyVaultSecretsOfficer }.Order(), roles);
    }

    [Theory]
    [MemberData(nameof(DeployerRoles))]
    public void DeployerRole_HasTheDeployersPrincipalTypeAndIsBehindTheSwitch(string roleGuid, string scopeType)
    {
        var assignment = Assert.Single(Assignments, a => a.PrincipalId == DeployerPrincipal && a.RoleGuid == roleGuid);
        // A pipeline's service principal assigned as 'User' is rejected (UnmatchedPrincipalType).
        Assert.Equal("[parameters('deployerPrincipalType')]", assignment.PrincipalType);
        Assert.NotNull(assignment.Condition);
        Assert.Contains("parameters('grantDeployerDataAccess')", assignment.Condition, StringComparison.Ordinal);
        Assert.StartsWith($"resourceId('{scopeType}', ", assignment.Scope, StringComparison.Ordinal);
        AssertDeterministicName(assignment, scopeType);
    }

    [Fact]
    public void DeployerDataAccess_IsOnByDefault_SoTheDefaultAzdUpCanWriteTheRootToken()
    {
        var parameter = ArmTemplate.Main.Parameters["grantDeployerDataAccess"];
        Assert.Equal("bool", Json.String(parameter?["type"], "type"));
        Assert.True(Json.Bool(parameter?["defaultValue"], "grantDeployerDataAccess default"));
        Assert.Equal("[parameters('grantDeployerDataAccess')]", Rbac.ParameterValue("grantDeployerDataAccess"));
        Assert.Equal("[parameters('principalId')]", Rbac.ParameterValue("deployerPrincipalId"));
    }

    [Fact]
    public void DeployerPrincipalType_ComesFromAzurePrincipalType_UserByDefault()
    {
        var parameter = ArmTemplate.Main.Parameters["principalType"];
        Assert.Equal("User", Json.String(parameter?["defaultValue"], "principalType default"));
        Assert.Equal(["User", "ServicePrincipal", "Group"], parameter?["allowedValues"]?.AsArray().Select(v => (string?)v));
        Assert.Equal("[parameters('principalType')]", Rbac.ParameterValue("deployerPrincipalType"));
        Assert.Equal("${AZURE_PRINCIPAL_TYPE=User}", ParameterFile.Value("principalType"));
    }

    [Fact]
    public void EveryAssignment_IsForAKnownPrincipal() =>
        Assert.All(Assignments, a => Assert.Contains(a.PrincipalId, new[] { IdentityPrincipal, DeployerPrincipal }));

    [Fact]
    public void NoTemplate_AssignsRolesOutsideTheRbacModule()
    {
        var elsewhere = ArmTemplate.Main.SelfAndDescendants()
            .Where(t => t.Deployment is null || (string?)t.Deployment["name"] != "rbac")
            .SelectMany(t => t.OfType("Microsoft.Authorization/roleAssignments"));
        Assert.Empty(elsewhere);
    }

    // guid(scope resource id, principal id, role definition id): one assignment per triple, stable
    // across deployments.
    private static void AssertDeterministicName(Assignment assignment, string scopeType)
    {
        Assert.StartsWith($"guid(resourceId('{scopeType}', ", assignment.Name, StringComparison.Ordinal);
        Assert.Contains($"), {assignment.PrincipalId}, subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '{assignment.RoleGuid}'))",
            assignment.Name, StringComparison.Ordinal);
    }

    [GeneratedRegex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")]
    private static partial Regex Guid();

    private sealed record Assignment(
        string RoleGuid, string PrincipalId, string PrincipalType, string Scope, string Name, string? Condition);
}
