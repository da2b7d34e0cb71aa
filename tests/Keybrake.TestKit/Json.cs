using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Keybrake.Tests.Support;

/// <summary>JSON in tests: answers read over HTTP, request bodies, and properties that must be literals.</summary>
public static class Json
{
    public static async Task<JsonElement> ReadAsync(HttpResponseMessage response)
    {
        string body = await response.Content.ReadAsStringAsync();
        try
        {
            return JsonDocument.Parse(body).RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException($"Not JSON ({(int)response.StatusCode}): {body}", e);
        }
    }

    public static string Str(this JsonElement element, string name) => element.GetProperty(name).GetString()!;

    /// <summary>A snake_case-as-written JSON request body.</summary>
    public static StringContent Content(object value) =>
        new(JsonSerializer.Serialize(value), System.Text.Encoding.UTF8, "application/json");

    /// <summary>The value of a property that must be a literal true/false (not an expression that might be anything).</summary>
    public static bool Bool(JsonNode? node, string what) =>
        Literal(node, what, JsonValueKind.True, JsonValueKind.False).GetValue<bool>();

    /// <summary>The value of a property that must be a literal string.</summary>
    [SuppressMessage("Naming", "CA1720", Justification = "The infrastructure tests' name for it, kept so their tests read as before.")]
    public static string String(JsonNode? node, string what) =>
        Literal(node, what, JsonValueKind.String).GetValue<string>();

    /// <summary>The value of a property that must be a literal number.</summary>
    [SuppressMessage("Naming", "CA1720", Justification = "The infrastructure tests' name for it, kept so their tests read as before.")]
    public static int Int(JsonNode? node, string what) =>
        Literal(node, what, JsonValueKind.Number).GetValue<int>();

    private static JsonValue Literal(JsonNode? node, string what, params JsonValueKind[] kinds) =>
        node is JsonValue value && kinds.Contains(value.GetValueKind())
            ? value
            : throw new InvalidOperationException($"{what} must be a literal {string.Join(" or ", kinds)}, was {node?.ToJsonString() ?? "missing"}");
}
