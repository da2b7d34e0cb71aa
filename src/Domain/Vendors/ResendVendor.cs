using System.Text.Json;
using Keybrake.Domain.Pricing;
using Keybrake.Domain.Proxy;

namespace Keybrake.Domain.Vendors;

/// <summary>Resend: Bearer API key, JSON bodies, no cost in responses: a configured price per email sent.</summary>
public sealed class ResendVendor(PricingOptions pricing) : VendorDefinition
{
    public override string Name => "resend";

    public override Uri DefaultBaseUrl { get; } = new("https://api.resend.com/");

    public override IReadOnlyList<string> SecretNames { get; } = [Secrets.SecretNames.ResendApiKey];

    public override string RequestIdHeader => "x-resend-request-id";

    public override string? ReadVaultKey(string? authorization) => Bearer(authorization);

    public override UpstreamAuthorization Authorize(IReadOnlyDictionary<string, string> secrets, IReadOnlyList<string> segments) =>
        new("Bearer " + secrets[Secrets.SecretNames.ResendApiKey], segments);

    public override string Operation(string method, IReadOnlyList<string> segments) => (method, segments.Count) switch
    {
        ("POST", 1) when segments[0] == "emails" => "emails.send",
        ("POST", 2) when segments[0] == "emails" && segments[1] == "batch" => "emails.batch",
        (_, 0) => method.ToLowerInvariant(),
        ("GET", 1) => segments[0] + ".list",
        ("GET", _) => segments[0] + ".get",
        ("POST", 1) => segments[0] + ".create",
        ("DELETE", _) => segments[0] + ".delete",
        _ => segments[0] + "." + method.ToLowerInvariant(),
    };

    public override CostEstimate Estimate(ProxyCall call)
    {
        long emails = call.Operation switch
        {
            "emails.send" => 1,
            "emails.batch" => CountBatch(call.Body.Span),
            _ => 0,
        };
        return emails == 0 ? CostEstimate.Free : new CostEstimate(Currencies.PriceMicros(pricing.ResendPricePerEmailUsd, emails), "usd");
    }

    public override bool CostNeedsResponseBody(ProxyCall call) => call.Operation is "emails.send" or "emails.batch";

    protected override CallCost SettleFromResponse(ProxyCall call, CostEstimate estimate, JsonElement root)
    {
        if (call.Operation == "emails.send")
        {
            string? id = root.TryGetProperty("id", out JsonElement idElement) ? idElement.GetString() : null;
            return new CallCost(Currencies.PriceMicros(pricing.ResendPricePerEmailUsd, 1), CostSource.Parsed, Currency: "usd", VendorObjectId: id);
        }

        long sent = root.TryGetProperty("data", out JsonElement data) && data.ValueKind == JsonValueKind.Array ? data.GetArrayLength() : 0;
        return new CallCost(Currencies.PriceMicros(pricing.ResendPricePerEmailUsd, sent), CostSource.Parsed, Currency: "usd");
    }

    /// <summary>
    /// Resend keeps no owner on an email, so ownership lives only in Keybrake's table: <c>/{resource}/{id}</c>
    /// (and its actions, <c>/emails/{id}/cancel</c>) is checked, creates (a batch: each email) are recorded,
    /// lists are refused (filtering would need one table read per item).
    /// </summary>
    public override ObjectScope Objects(ProxyCall call, string? query)
    {
        IReadOnlyList<string> s = call.Segments;
        if (s.Count == 0)
        {
            return new ObjectScope([], Refusal: "The Resend root cannot be scoped to a tenant.");
        }

        bool batch = s.Count == 2 && s[0] == "emails" && s[1] == "batch";
        IReadOnlyList<NamedObject> named = s.Count >= 2 && !batch ? [new NamedObject(s[1], null)] : [];
        bool collection = s.Count == 1;
        return new ObjectScope(
            named,
            collection && call.Method == "GET" ? ListScope.Refuse : ListScope.None,
            Creates: (collection || batch) && call.Method == "POST");
    }

    public override IReadOnlyList<string> CreatedObjects(ProxyCall call, JsonElement root)
    {
        if (OwnershipJson.Text(root, "id") is string id)
        {
            return [id];
        }

        return root.ValueKind == JsonValueKind.Object && root.TryGetProperty("data", out JsonElement data) && data.ValueKind == JsonValueKind.Array
            ? [.. data.EnumerateArray().Select(e => OwnershipJson.Text(e, "id")).OfType<string>()]
            : [];
    }

    public override VendorErrorBody Error(int status, string code, string message) => new(
        "application/json",
        JsonSerializer.Serialize(new { statusCode = status, name = "keybrake_" + code, message }));

    private static long CountBatch(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            using JsonDocument document = JsonDocument.ParseValue(ref reader);
            return document.RootElement.ValueKind == JsonValueKind.Array ? document.RootElement.GetArrayLength() : 0;
        }
        catch (JsonException)
        {
            // Resend refuses a malformed batch itself; nothing is sent.
            return 0;
        }
    }
}
