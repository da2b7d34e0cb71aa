using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Keybrake.Infra.Tests;

/// <summary>
/// A compiled ARM template (infra/bicep/main.bicep, built to $(OutDir)arm/main.json by the project's
/// LintAndBuildBicep target) or one of its nested module templates. Values stay ARM expressions;
/// <see cref="Resolve"/> inlines variables so a test can see the literal behind them.
/// </summary>
internal sealed partial class ArmTemplate
{
    private static readonly Lazy<ArmTemplate> LazyMain = new(LoadMain);

    private ArmTemplate(JsonObject root, JsonObject? deployment)
    {
        Root = root;
        Deployment = deployment;
    }

    public static ArmTemplate Main => LazyMain.Value;

    public static string MainJsonText => File.ReadAllText(MainJsonPath);

    public static string RepositoryRoot { get; } = typeof(ArmTemplate).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "RepositoryRoot").Value!;

    private static string MainJsonPath => Path.Combine(AppContext.BaseDirectory, "arm", "main.json");

    public JsonObject Root { get; }

    /// <summary>The Microsoft.Resources/deployments resource that holds this template; null for main.</summary>
    public JsonObject? Deployment { get; }

    public JsonObject Parameters => Root["parameters"] as JsonObject ?? [];

    public JsonObject Variables => Root["variables"] as JsonObject ?? [];

    public JsonObject Outputs => Root["outputs"] as JsonObject ?? [];

    /// <summary>Resources, whether the template lists them (classic) or names them (languageVersion 2.0).</summary>
    public IEnumerable<JsonObject> Resources => Root["resources"] switch
    {
        JsonArray array => array.OfType<JsonObject>(),
        JsonObject named => named.Select(p => p.Value).OfType<JsonObject>(),
        _ => [],
    };

    /// <summary>This template and every module template below it.</summary>
    public IEnumerable<ArmTemplate> SelfAndDescendants()
    {
        yield return this;
        foreach (var deployment in OfType("Microsoft.Resources/deployments"))
        {
            if (deployment["properties"]?["template"] is JsonObject template)
            {
                foreach (var nested in new ArmTemplate(template, deployment).SelfAndDescendants())
                {
                    yield return nested;
                }
            }
        }
    }

    public IReadOnlyList<JsonObject> OfType(string type) =>
        Resources.Where(r => string.Equals((string?)r["type"], type, StringComparison.OrdinalIgnoreCase)).ToList();

    public JsonObject Single(string type)
    {
        var matches = OfType(type);
        Assert.True(matches.Count == 1, $"expected exactly one {type}, found {matches.Count}");
        return matches[0];
    }

    /// <summary>The module deployed by main.bicep under the deployment name <paramref name="name"/>.</summary>
    public ArmTemplate Module(string name)
    {
        var deployment = OfType("Microsoft.Resources/deployments")
            .SingleOrDefault(d => (string?)d["name"] == name);
        Assert.True(deployment is not null, $"no module deployment named '{name}'");
        var template = deployment["properties"]?["template"] as JsonObject;
        Assert.True(template is not null, $"module '{name}' has no inline template");
        return new ArmTemplate(template, deployment);
    }

    /// <summary>The value (usually an expression) the parent template passes to this module's parameter.</summary>
    public string ParameterValue(string name)
    {
        Assert.NotNull(Deployment);
        var value = Deployment["properties"]?["parameters"]?[name]?["value"];
        Assert.True(value is not null, $"module parameter '{name}' is not set");
        return value is JsonValue ? value.ToString() : value.ToJsonString();
    }

    /// <summary>
    /// The expression (without its brackets) or quoted literal behind <paramref name="node"/>, with
    /// every string variable inlined: "[variables('roleId')]" becomes "'0a9a7e1f-...'".
    /// </summary>
    public string Resolve(JsonNode? node)
    {
        Assert.NotNull(node);
        var text = node.ToString();
        var current = IsExpression(text) ? text[1..^1] : $"'{text}'";
        for (var i = 0; i < 20; i++)
        {
            var next = VariableReference().Replace(current, m =>
                Variables[m.Groups[1].Value] is JsonValue v && v.TryGetValue<string>(out var s)
                    ? (IsExpression(s) ? s[1..^1] : $"'{s}'")
                    : m.Value);
            if (next == current)
            {
                return current;
            }

            current = next;
        }

        throw new InvalidOperationException($"variables in '{text}' do not resolve");
    }

    private static bool IsExpression(string value) =>
        value.StartsWith('[') && value.EndsWith(']') && !value.StartsWith("[[", StringComparison.Ordinal);

    private static ArmTemplate LoadMain()
    {
        Assert.True(File.Exists(MainJsonPath), $"{MainJsonPath} is missing: the LintAndBuildBicep target did not run");
        var root = JsonNode.Parse(File.ReadAllText(MainJsonPath)) as JsonObject;
        Assert.NotNull(root);
        return new ArmTemplate(root, deployment: null);
    }

    [GeneratedRegex(@"variables\('([^']+)'\)")]
    private static partial Regex VariableReference();
}
