using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Keybrake.Domain.Export;

public enum MeterOutcomeKind
{
    /// <summary>The meter took the event.</summary>
    Accepted,

    /// <summary>The meter already had an event with this id: it counts as sent.</summary>
    Duplicate,

    /// <summary>Not taken this time (meter down, rate limited, credentials missing or refused): try again later.</summary>
    Retry,

    /// <summary>Refused for good: sending the same event again cannot succeed.</summary>
    Rejected,
}

/// <summary>What one send attempt ended with; <see cref="Detail"/> is a status and error code, never a body or a secret.</summary>
public sealed record MeterOutcome(MeterOutcomeKind Kind, string? Detail = null);

/// <summary>
/// One billing meter's wire format (docs/vendors.md): where events go, how they are authenticated and
/// shaped, and how the meter's answer reads, including how it says "I have this one already". A new
/// meter is one subclass listed in <see cref="All"/>.
/// </summary>
public abstract class MeterFormat
{
    public static IReadOnlyList<MeterFormat> All { get; } = [new StripeMeterFormat(), new LagoMeterFormat(), new OpenMeterFormat()];

    /// <summary>The <see cref="ExportOptions.Target"/> value that selects this meter.</summary>
    public abstract string Target { get; }

    public abstract Uri DefaultBaseUrl { get; }

    /// <summary>The secret (Key Vault name, or <c>Secrets__{name}</c>) holding the meter's API key.</summary>
    public abstract string SecretName { get; }

    /// <summary>The tenant's customer in this meter, or null when the tenant is not mapped to one.</summary>
    public abstract string? CustomerOf(TenantBilling billing);

    public abstract HttpRequestMessage Build(ExportRecord record, Uri baseUrl, string secret);

    public static MeterFormat? For(string target) => All.FirstOrDefault(m => m.Target == target);

    public MeterOutcome Classify(int status, string body)
    {
        if (status is >= 200 and < 300)
        {
            return new MeterOutcome(MeterOutcomeKind.Accepted);
        }

        JsonElement? json = null;
        try
        {
            using JsonDocument document = JsonDocument.Parse(body);
            json = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            // Proxies and load balancers answer in HTML; only the status is known then.
        }

        if (json is { ValueKind: JsonValueKind.Object } error && IsDuplicate(status, error))
        {
            return new MeterOutcome(MeterOutcomeKind.Duplicate);
        }

        string? code = json is { ValueKind: JsonValueKind.Object } e ? ErrorCode(e) : null;
        string detail = code is null ? $"HTTP {status}" : $"HTTP {status} {Truncate(code)}";

        // 401/403 are retried: they mean a missing or rotated key, which an operator fixes without touching the outbox.
        bool transient = status is 401 or 403 or 408 or 409 or 425 or 429 or >= 500;
        return new MeterOutcome(transient ? MeterOutcomeKind.Retry : MeterOutcomeKind.Rejected, detail);
    }

    protected abstract bool IsDuplicate(int status, JsonElement error);

    /// <summary>The meter's machine-readable error code from an error body, if it has one.</summary>
    protected abstract string? ErrorCode(JsonElement error);

    protected static Uri Endpoint(Uri baseUrl, string path) => new(baseUrl.ToString().TrimEnd('/') + path, UriKind.Absolute);

    protected static HttpRequestMessage Post(Uri uri, string secret, HttpContent content)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        return request;
    }

    /// <summary>What every meter receives besides the value: which tenant-day, and whether it is the day itself or an adjustment.</summary>
    protected static JsonObject Properties(ExportRecord record) => new()
    {
        ["value"] = record.ValueCents,
        ["tenant"] = record.Tenant,
        ["day"] = record.DayText,
        ["kind"] = record.Kind,
    };

    protected static string? Text(JsonElement parent, string name) =>
        parent.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string Truncate(string code) => code.Length <= 100 ? code : code[..100];
}

/// <summary>
/// Stripe Billing Meters: <c>POST /v1/billing/meter_events</c>, form-encoded, <c>identifier</c> = the event id
/// (Stripe keeps it unique over at least 24 hours); a repeat is 400 <c>resource_already_exists</c>.
/// No <c>Idempotency-Key</c>: Stripe would replay a first 500 to every retry for a day.
/// </summary>
public sealed class StripeMeterFormat : MeterFormat
{
    public override string Target => "stripe_meters";

    public override Uri DefaultBaseUrl { get; } = new("https://api.stripe.com");

    public override string SecretName => Secrets.SecretNames.StripeMeterKey;

    public override string? CustomerOf(TenantBilling billing) => billing.StripeCustomerId;

    public override HttpRequestMessage Build(ExportRecord record, Uri baseUrl, string secret) =>
        Post(Endpoint(baseUrl, "/v1/billing/meter_events"), secret, new FormUrlEncodedContent(
        [
            new("event_name", record.EventName),
            new("identifier", record.EventId),
            new("timestamp", record.Timestamp.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)),
            new("payload[stripe_customer_id]", record.Customer),
            new("payload[value]", record.ValueCents.ToString(CultureInfo.InvariantCulture)),
        ]));

    protected override bool IsDuplicate(int status, JsonElement error) =>
        status == 400 && error.TryGetProperty("error", out JsonElement e) && e.ValueKind == JsonValueKind.Object && Text(e, "code") == "resource_already_exists";

    protected override string? ErrorCode(JsonElement error) =>
        error.TryGetProperty("error", out JsonElement e) && e.ValueKind == JsonValueKind.Object ? Text(e, "code") ?? Text(e, "type") : null;
}

/// <summary>
/// Lago: <c>POST /api/v1/events</c> with <c>{"event":{…}}</c>, <c>transaction_id</c> = the event id; a repeat is
/// 422 with <c>error_details.transaction_id: ["value_already_exist"]</c>. The value (cents) is in
/// <c>properties.value</c> for a sum metric and in <c>precise_total_amount_cents</c> for a dynamic charge.
/// </summary>
public sealed class LagoMeterFormat : MeterFormat
{
    public override string Target => "lago";

    public override Uri DefaultBaseUrl { get; } = new("https://api.getlago.com");

    public override string SecretName => Secrets.SecretNames.LagoApiKey;

    public override string? CustomerOf(TenantBilling billing) => billing.LagoExternalSubscriptionId;

    public override HttpRequestMessage Build(ExportRecord record, Uri baseUrl, string secret)
    {
        var body = new JsonObject
        {
            ["event"] = new JsonObject
            {
                ["transaction_id"] = record.EventId,
                ["external_subscription_id"] = record.Customer,
                ["code"] = record.EventName,
                ["timestamp"] = record.Timestamp.ToUnixTimeSeconds(),
                ["properties"] = Properties(record),
                ["precise_total_amount_cents"] = record.ValueCents.ToString(CultureInfo.InvariantCulture),
            },
        };
        return Post(Endpoint(baseUrl, "/api/v1/events"), secret, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
    }

    protected override bool IsDuplicate(int status, JsonElement error) =>
        status == 422
        && error.TryGetProperty("error_details", out JsonElement details) && details.ValueKind == JsonValueKind.Object
        && details.TryGetProperty("transaction_id", out JsonElement reasons) && reasons.ValueKind == JsonValueKind.Array
        && reasons.EnumerateArray().Any(r => r.ValueKind == JsonValueKind.String && r.GetString() == "value_already_exist");

    protected override string? ErrorCode(JsonElement error)
    {
        if (error.TryGetProperty("error_details", out JsonElement details) && details.ValueKind == JsonValueKind.Object)
        {
            foreach (JsonProperty field in details.EnumerateObject())
            {
                string? reason = field.Value.ValueKind == JsonValueKind.Array && field.Value.GetArrayLength() > 0 && field.Value[0].ValueKind == JsonValueKind.String
                    ? field.Value[0].GetString()
                    : null;
                return $"{field.Name}: {reason}";
            }
        }

        return Text(error, "code") ?? Text(error, "error");
    }
}

/// <summary>
/// OpenMeter: one CloudEvent (<c>application/cloudevents+json</c>) to <c>POST /api/v1/events</c>, <c>id</c> = the
/// event id and <c>source</c> = <c>keybrake</c>. OpenMeter answers 204 to a repeat and drops it silently,
/// so a resend is safe and needs no special reading.
/// </summary>
public sealed class OpenMeterFormat : MeterFormat
{
    public const string Source = "keybrake";

    public override string Target => "openmeter";

    public override Uri DefaultBaseUrl { get; } = new("https://openmeter.cloud");

    public override string SecretName => Secrets.SecretNames.OpenMeterApiKey;

    public override string? CustomerOf(TenantBilling billing) => billing.OpenMeterSubject;

    public override HttpRequestMessage Build(ExportRecord record, Uri baseUrl, string secret)
    {
        var cloudEvent = new JsonObject
        {
            ["specversion"] = "1.0",
            ["id"] = record.EventId,
            ["source"] = Source,
            ["type"] = record.EventName,
            ["subject"] = record.Customer,
            ["time"] = record.Timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            ["datacontenttype"] = "application/json",
            ["data"] = Properties(record),
        };
        var content = new StringContent(cloudEvent.ToJsonString(), Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/cloudevents+json") { CharSet = "utf-8" };
        return Post(Endpoint(baseUrl, "/api/v1/events"), secret, content);
    }

    protected override bool IsDuplicate(int status, JsonElement error) => false;

    protected override string? ErrorCode(JsonElement error) => Text(error, "title");
}
