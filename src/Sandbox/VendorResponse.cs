using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Keybrake.Sandbox;

/// <summary>What a fake answers, plus the facts it records in the ledger.</summary>
internal sealed class VendorResponse
{
    private static readonly JsonSerializerOptions WriteOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public VendorResponse(int status, string body, string contentType = "application/json")
    {
        Status = status;
        Body = body;
        ContentType = contentType;
    }

    public int Status { get; }

    public string Body { get; }

    public string ContentType { get; }

    public List<KeyValuePair<string, string>> Headers { get; } = [];

    public string? ObjectId { get; init; }

    public long? AmountMinor { get; init; }

    public string? Currency { get; init; }

    public decimal? PriceUsd { get; init; }

    public int? Segments { get; init; }

    public int? EmailCount { get; init; }

    public bool Replayed { get; init; }

    /// <summary>Called once the response has been written (or dropped): releases an in-flight idempotency key.</summary>
    public Action? Completed { get; set; }

    public static VendorResponse Json(int status, JsonNode body, string contentType = "application/json") =>
        new(status, body.ToJsonString(WriteOptions), contentType);

    public static string Serialize(JsonNode node) => node.ToJsonString(WriteOptions);

    public VendorResponse WithHeader(string name, string value)
    {
        Headers.Add(new(name, value));
        return this;
    }

    public bool HasHeader(string name) =>
        Headers.Exists(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase));
}
