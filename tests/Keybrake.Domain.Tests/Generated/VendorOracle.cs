using System.Text.Json;
using System.Text.Json.Nodes;
using Keybrake.Sandbox;

namespace Keybrake.Domain.Tests.Generated;

/// <summary>
/// What the fake vendors would charge for a request, asked of the fakes' own parsing rules
/// (<c>FakeVendor.Read</c>, <c>FakeRequest.Param</c>, <c>FakeStripe.LenientInteger</c>) without sending it:
/// the same rules the HTTP tests meet on loopback, so the estimators are checked against one truth.
/// </summary>
internal static class VendorOracle
{
    public static (long AmountMinor, string Currency)? StripeCharge(RequestShape shape)
    {
        FakeRequest request = Read(shape, readsJson: true);
        string? amountText = request.Param("amount");
        string? currency = request.Param("currency")?.Trim();
        if (string.IsNullOrEmpty(amountText) || FakeStripe.LenientInteger(amountText) is not long amount || amount < 1 ||
            currency is not { Length: 3 } || !currency.All(char.IsAsciiLetter))
        {
            return null;
        }

        return (amount, currency.ToLowerInvariant());
    }

    /// <summary>The fake Twilio's settled price in USD (segments × per-segment, plus the media price), 0 when it refuses.</summary>
    public static decimal TwilioPriceUsd(RequestShape shape, decimal perSegmentUsd, decimal perMediaUsd)
    {
        FakeRequest request = Read(shape, readsJson: true);
        string body = request.Param("Body") ?? string.Empty;
        int media = request.Parameters.Count(p => p.Key.StartsWith("MediaUrl", StringComparison.Ordinal));
        if ((body.Length == 0 && media == 0) || body.Length > 1600)
        {
            return 0;
        }

        // The fake divides units by the part size; Twilio never splits a character across parts, which can take one
        // part more. The bound must cover whichever is larger.
        int segments = Math.Max(SmsSegments.Count(body).Segments, Vendors.SmsRules.Segments(body));
        return decimal.Round(segments * perSegmentUsd, 5, MidpointRounding.AwayFromZero) + (media > 0 ? perMediaUsd : 0);
    }

    /// <summary>At most how many emails the fake Resend sends: it reads any content type, leniently.</summary>
    public static int ResendEmails(RequestShape shape, bool batch)
    {
        FakeRequest request = Read(shape, readsJson: false);
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(request.Body, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException)
        {
            return 0;
        }

        return batch ? (node is JsonArray array ? array.Count : 0) : (node is JsonObject ? 1 : 0);
    }

    private static FakeRequest Read(RequestShape shape, bool readsJson)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (shape.ContentType is not null)
        {
            headers["Content-Type"] = shape.ContentType;
        }

        if (shape.ContentEncoding is not null)
        {
            headers["Content-Encoding"] = shape.ContentEncoding;
        }

        return FakeVendor.Read(shape.Method, "/" + shape.Path, shape.Query, headers, shape.Body, readsJson, DateTimeOffset.UnixEpoch);
    }
}
