using System.Text.Json;
using System.Text.Json.Nodes;

namespace Keybrake.Infra.Tests;

/// <summary>Assertions that a property is a JSON literal (not an expression that might be anything).</summary>
internal static class Json
{
    public static bool Bool(JsonNode? node, string what) =>
        Literal(node, what, JsonValueKind.True, JsonValueKind.False).GetValue<bool>();

    public static string String(JsonNode? node, string what) =>
        Literal(node, what, JsonValueKind.String).GetValue<string>();

    public static int Int(JsonNode? node, string what) =>
        Literal(node, what, JsonValueKind.Number).GetValue<int>();

    private static JsonValue Literal(JsonNode? node, string what, params JsonValueKind[] kinds)
    {
        if (node is JsonValue value && kinds.Contains(value.GetValueKind()))
        {
            return value;
        }

        Assert.Fail($"{what} must be a literal {string.Join(" or ", kinds)}, was {node?.ToJsonString() ?? "missing"}");
        throw new InvalidOperationException("unreachable");
    }
}
