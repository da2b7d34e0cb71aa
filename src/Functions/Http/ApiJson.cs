using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

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

    /// <summary>An operator API answer: the stock MVC result, serialized with these conventions.</summary>
    public static JsonResult Result(object? value, int statusCode = StatusCodes.Status200OK) =>
        new(value, Options) { StatusCode = statusCode, ContentType = "application/json; charset=utf-8" };
}
