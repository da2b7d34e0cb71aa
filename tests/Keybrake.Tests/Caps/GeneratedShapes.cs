using System.Net;
using System.Text.Json;
using Keybrake.Domain.Tests.Generated;
using Keybrake.Sandbox;

namespace Keybrake.Tests.Caps;

/// <summary>Sends generated request shapes as they are, byte for byte, and tells a proxy refusal from a vendor answer.</summary>
public static class GeneratedShapes
{
    public static HttpRequestMessage Request(string vendor, RequestShape shape, string vaultKey)
    {
        var request = new HttpRequestMessage(new HttpMethod(shape.Method), $"/proxy/{vendor}/{shape.Path}{shape.Query}");
        HttpContent content = shape.Chunked ? new ChunkedContent(shape.Body) : new ByteArrayContent(shape.Body);
        if (shape.ContentType is not null)
        {
            content.Headers.TryAddWithoutValidation("Content-Type", shape.ContentType);
        }

        if (shape.ContentEncoding is not null)
        {
            content.Headers.TryAddWithoutValidation("Content-Encoding", shape.ContentEncoding);
        }

        request.Content = content;
        request.Headers.Authorization = vendor == "twilio"
            ? new("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("AC" + new string('1', 32) + ":" + vaultKey)))
            : new("Bearer", vaultKey);
        return request;
    }

    /// <summary>The proxy's own refusal code (vendor error shapes carry it differently), or null when the vendor answered.</summary>
    public static string? RefusalCode(string vendor, string body)
    {
        try
        {
            using JsonDocument json = JsonDocument.Parse(body);
            JsonElement root = json.RootElement;
            string? code = vendor switch
            {
                "stripe" => root.TryGetProperty("error", out JsonElement error) && error.TryGetProperty("code", out JsonElement c) ? c.GetString() : null,
                "twilio" => root.TryGetProperty("keybrake_code", out JsonElement k) ? "keybrake_" + k.GetString() : null,
                _ => root.TryGetProperty("name", out JsonElement n) ? n.GetString() : null,
            };
            return code is not null && code.StartsWith("keybrake_", StringComparison.Ordinal) ? code : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>What the fake Stripe charged in the given ledger entries, in USD micro-dollars (the proxy's configured rates).</summary>
    public static long StripeChargedMicros(IEnumerable<LedgerEntry> entries)
    {
        var currencies = new Keybrake.Domain.Pricing.Currencies(new Keybrake.Domain.Pricing.PricingOptions());
        return entries
            .Where(e => e.Status == 200 && !e.Replayed && e.AmountMinor is > 0 && e.Currency is not null && e.Method == "POST" && !e.Path.Contains("/refunds", StringComparison.Ordinal))
            .Sum(e => currencies.ToUsdMicros(e.AmountMinor!.Value, e.Currency!));
    }

    /// <summary>A body sent with Transfer-Encoding: chunked (no Content-Length), in small pieces.</summary>
    private sealed class ChunkedContent(byte[] body) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            for (int at = 0; at < body.Length; at += 7)
            {
                await stream.WriteAsync(body.AsMemory(at, Math.Min(7, body.Length - at)));
                await stream.FlushAsync();
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
