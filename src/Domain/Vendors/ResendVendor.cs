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

    // Resend honours Idempotency-Key on sends (a replayed send is not sent twice).
    public override IReadOnlySet<string> ForwardedRequestHeaders { get; } = WithCommon("Idempotency-Key");

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

    /// <summary>Resend's writes that send nothing; any other write (a broadcast's send, anything new) is unbounded.</summary>
    private static readonly HashSet<string> FreeCreates = new(StringComparer.Ordinal)
    {
        "domains", "api-keys", "audiences", "contacts", "webhooks", "segments", "topics", "templates",
    };

    private static readonly System.Text.UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public override CostEstimate Estimate(ProxyCall call)
    {
        if (call.Method is "GET" or "HEAD" or "OPTIONS" or "DELETE" || call.Method == "PATCH" ||
            (call.Method == "POST" && call.Segments.Count >= 1 && FreeCreates.Contains(call.Segments[0])) ||
            (call.Method == "POST" && call.Segments is ["emails", _, "cancel"]))
        {
            return CostEstimate.Free;
        }

        long emails = call.Operation switch
        {
            "emails.send" => ReadEmails(call, JsonValueKind.Object),
            "emails.batch" => ReadEmails(call, JsonValueKind.Array),
            _ => -1,
        };
        return emails < 0 ? CostEstimate.Unbounded : new CostEstimate(Currencies.PriceMicros(pricing.ResendPricePerEmailUsd, emails), "usd");
    }

    public override bool CostNeedsResponseBody(ProxyCall call) => call.Operation is "emails.send" or "emails.batch";

    /// <summary>
    /// How many emails a send or batch body sends, read strictly: JSON (UTF-8, no byte-order mark, no
    /// comments or trailing commas) of the expected shape, else refused, since a lenient reader might
    /// find emails we did not count.
    /// </summary>
    private static long ReadEmails(ProxyCall call, JsonValueKind expected)
    {
        string? mediaType = call.ContentType?.Split(';')[0].Trim();
        if (!string.Equals(mediaType, "application/json", StringComparison.OrdinalIgnoreCase) ||
            (call.ContentType!.Contains(';', StringComparison.Ordinal) && !call.ContentType.Contains("charset=utf-8", StringComparison.OrdinalIgnoreCase)))
        {
            throw RequestParameters.Unreadable($"a body with content type '{call.ContentType ?? "(none)"}'; send application/json (UTF-8).");
        }

        if (!string.IsNullOrEmpty(call.ContentEncoding))
        {
            throw RequestParameters.Unreadable($"a Content-Encoding ('{call.ContentEncoding}') on a sending call.");
        }

        ReadOnlySpan<byte> body = call.Body.Span;
        if (body.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            throw RequestParameters.Unreadable("the body starts with a byte-order mark.");
        }

        try
        {
            _ = StrictUtf8.GetCharCount(body);
            using JsonDocument document = JsonDocument.Parse(call.Body);
            JsonElement root = document.RootElement;
            if (root.ValueKind != expected)
            {
                throw RequestParameters.Unreadable(expected == JsonValueKind.Array ? "a batch must be a JSON array of emails." : "an email must be a JSON object.");
            }

            return expected == JsonValueKind.Array ? root.GetArrayLength() : 1;
        }
        catch (Exception e) when (e is JsonException or System.Text.DecoderFallbackException)
        {
            throw RequestParameters.Unreadable("the body is not valid UTF-8 JSON.");
        }
    }

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
}
