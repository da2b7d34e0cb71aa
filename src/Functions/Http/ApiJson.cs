using System.Text.Json;

namespace Keybrake.Functions.Http;

/// <summary>The operator API's JSON conventions: snake_case names, ISO-8601 UTC times, decimals for money.</summary>
public static class ApiJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        WriteIndented = false,
    };
}
