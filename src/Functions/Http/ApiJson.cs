using System.Text.Json;
using System.Text.Json.Serialization;
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
        Converters = { new UtcTimeConverter() },
    };

    /// <summary>An operator API answer: the stock MVC result, serialized with these conventions.</summary>
    public static JsonResult Result(object? value, int statusCode = StatusCodes.Status200OK) =>
        new(value, Options) { StatusCode = statusCode, ContentType = "application/json; charset=utf-8" };
}

/// <summary>
/// Every time on the API in one form, UTC with <c>Z</c> (the webhook and export bodies use it too); a reader
/// accepts any ISO-8601 offset and normalizes it.
/// </summary>
public sealed class UtcTimeConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.GetDateTimeOffset().ToUniversalTime();

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.UtcDateTime);
}
