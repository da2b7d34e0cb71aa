using System.Text.Json.Nodes;

namespace Keybrake.Infra.Tests;

/// <summary>infra/bicep/main.parameters.json: what azd feeds each main.bicep parameter.</summary>
internal static class ParameterFile
{
    public static JsonObject Parameters { get; } = (JsonObject)JsonNode.Parse(File.ReadAllText(
        Path.Combine(ArmTemplate.RepositoryRoot, "infra", "bicep", "main.parameters.json")))!["parameters"]!;

    public static string Value(string parameter) => Json.String(Parameters[parameter]?["value"], parameter);
}
