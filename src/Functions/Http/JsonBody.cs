using System.Text.Json;
using Keybrake.Domain.Common;
using Microsoft.AspNetCore.Http;

namespace Keybrake.Functions.Http;

/// <summary>
/// Strict reading of operator request bodies into the domain's typed commands: bounded size, one JSON object,
/// only known fields, and errors that name the offending field. Chosen over the worker's <c>[FromBody]</c>
/// binding, which ignores unknown fields and answers a type error without saying which field.
/// </summary>
public sealed class JsonBody
{
    public const int MaxBytes = 64 * 1024;
    private readonly JsonElement _root;

    private JsonBody(JsonElement root) => _root = root;

    public static async Task<JsonBody> ReadAsync(HttpRequest request, IReadOnlyCollection<string> allowedFields, CancellationToken cancellationToken)
    {
        if (request.ContentLength > MaxBytes)
        {
            throw TooLarge();
        }

        byte[] buffer = new byte[MaxBytes + 1];
        int total = 0;
        while (total < buffer.Length)
        {
            int read = await request.Body.ReadAsync(buffer.AsMemory(total), cancellationToken);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        if (total > MaxBytes)
        {
            throw TooLarge();
        }

        if (total == 0)
        {
            throw new KeybrakeException(ErrorKind.Validation, "invalid_json", "The request body is empty; send a JSON object.");
        }

        JsonElement root;
        try
        {
            using JsonDocument document = JsonDocument.Parse(buffer.AsMemory(0, total), new JsonDocumentOptions { MaxDepth = 16 });
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new KeybrakeException(ErrorKind.Validation, "invalid_json", $"The request body is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}).");
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new KeybrakeException(ErrorKind.Validation, "invalid_json", "The request body must be a JSON object.");
        }

        foreach (JsonProperty property in root.EnumerateObject())
        {
            string name = Text(property, "field name");
            if (!allowedFields.Contains(name))
            {
                throw KeybrakeException.Invalid(name, $"unknown field; allowed fields are {string.Join(", ", allowedFields)}.");
            }
        }

        return new JsonBody(root);
    }

    public string RequiredString(string field) =>
        OptionalString(field) ?? throw KeybrakeException.Invalid(field, "is required.");

    public string? OptionalString(string field)
    {
        if (!_root.TryGetProperty(field, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String ? Text(value, field) : throw WrongType(field, "a string");
    }

    public bool RequiredBool(string field)
    {
        if (!_root.TryGetProperty(field, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            throw KeybrakeException.Invalid(field, "is required.");
        }

        return value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean() : throw WrongType(field, "true or false");
    }

    public decimal? OptionalDecimal(string field)
    {
        if (!_root.TryGetProperty(field, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number)
        {
            throw WrongType(field, "a number");
        }

        return value.TryGetDecimal(out decimal result) ? result : throw KeybrakeException.Invalid(field, "is out of range.");
    }

    public int? OptionalInt(string field)
    {
        decimal? value = OptionalDecimal(field);
        return value is null ? null
            : value == decimal.Truncate(value.Value) && value is >= int.MinValue and <= int.MaxValue ? (int)value.Value
            : throw WrongType(field, "a whole number");
    }

    public IReadOnlyList<string> RequiredStringList(string field)
    {
        if (!_root.TryGetProperty(field, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            throw KeybrakeException.Invalid(field, "is required.");
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            throw WrongType(field, "a list of strings");
        }

        return value.EnumerateArray()
            .Select(item => item.ValueKind == JsonValueKind.String ? Text(item, field) : throw WrongType(field, "a list of strings"))
            .ToList();
    }

    public IReadOnlyList<decimal>? OptionalDecimalList(string field)
    {
        if (!_root.TryGetProperty(field, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            throw WrongType(field, "a list of numbers");
        }

        return value.EnumerateArray()
            .Select(item => item.ValueKind == JsonValueKind.Number && item.TryGetDecimal(out decimal d) ? d : throw WrongType(field, "a list of numbers"))
            .ToList();
    }

    public IReadOnlyDictionary<string, decimal>? OptionalDecimalMap(string field)
    {
        if (!_root.TryGetProperty(field, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            throw WrongType(field, "an object of numbers");
        }

        var map = new Dictionary<string, decimal>(StringComparer.Ordinal);
        foreach (JsonProperty property in value.EnumerateObject())
        {
            string name = Text(property, field);
            map[name] = property.Value.ValueKind == JsonValueKind.Number && property.Value.TryGetDecimal(out decimal number)
                ? number
                : throw WrongType($"{field}.{name}", "a number");
        }

        return map;
    }

    public IReadOnlyDictionary<string, string>? OptionalStringMap(string field)
    {
        if (!_root.TryGetProperty(field, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            throw WrongType(field, "an object of string values");
        }

        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (JsonProperty property in value.EnumerateObject())
        {
            string name = Text(property, field);
            map[name] = property.Value.ValueKind == JsonValueKind.String
                ? Text(property.Value, $"{field}.{name}")
                : throw WrongType($"{field}.{name}", "a string");
        }

        return map;
    }

    /// <summary>
    /// A JSON string as .NET text. An escaped lone surrogate (<c>"acme:\ud800"</c>) is valid JSON but not
    /// text: reading it throws, which must be the caller's 400, not a 500 (nor a string that storage refuses).
    /// </summary>
    private static string Text(JsonElement value, string field)
    {
        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw KeybrakeException.Invalid(field, "is not valid Unicode text (a lone surrogate escape?).");
        }
    }

    private static string Text(JsonProperty property, string field)
    {
        try
        {
            return property.Name;
        }
        catch (InvalidOperationException)
        {
            throw KeybrakeException.Invalid(field, "is not valid Unicode text (a lone surrogate escape?).");
        }
    }

    private static KeybrakeException WrongType(string field, string expected) => KeybrakeException.Invalid(field, $"must be {expected}.");

    private static KeybrakeException TooLarge() =>
        new(ErrorKind.PayloadTooLarge, "payload_too_large", $"The request body exceeds {MaxBytes / 1024} KB.");
}
