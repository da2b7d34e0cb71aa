using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Keybrake.Sandbox;

/// <summary>A usage event the fake Lago accepted.</summary>
/// <param name="TransactionId">transaction_id (unique per subscription).</param>
/// <param name="ExternalSubscriptionId">external_subscription_id.</param>
/// <param name="Code">The billable metric code.</param>
/// <param name="Timestamp">Unix seconds, as sent (the receive time when absent).</param>
/// <param name="Properties">properties, as sent (an empty object when absent).</param>
/// <param name="PreciseTotalAmountCents">precise_total_amount_cents as a decimal, when sent.</param>
public sealed record LagoEvent(
    string TransactionId,
    string ExternalSubscriptionId,
    string Code,
    long Timestamp,
    JsonObject Properties,
    decimal? PreciseTotalAmountCents);

/// <summary>
/// Fake Lago events API: <c>POST /api/v1/events</c> with <c>{"event":{…}}</c>, Bearer auth, and Lago's
/// answers: 200 with the stored event; 422 <c>validation_errors</c> naming the field, including
/// <c>transaction_id: ["value_already_exist"]</c> for a transaction id this subscription already sent.
/// </summary>
public sealed class FakeLago : FakeVendor
{
    private readonly Lock _state = new();
    private readonly List<LagoEvent> _events = [];

    private FakeLago(FakeLagoOptions options)
        : base(options)
    {
        Options = options;
        ApiKey = options.ApiKey ?? Guid.NewGuid().ToString();
    }

    public override string Vendor => "lago";

    /// <summary>The API key the fake accepts as <c>Authorization: Bearer ...</c>.</summary>
    public string ApiKey { get; }

    public FakeLagoOptions Options { get; }

    /// <summary>Events accepted so far, oldest first (snapshot). Refused duplicates are only in the ledger.</summary>
    public IReadOnlyList<LagoEvent> Events
    {
        get
        {
            lock (_state)
            {
                return _events.ToArray();
            }
        }
    }

    public static Task<FakeLago> StartAsync(FakeLagoOptions? options = null, CancellationToken cancellationToken = default) =>
        StartAsync(new FakeLago(options ?? new FakeLagoOptions()), cancellationToken);

    private protected override VendorResponse? Authenticate(FakeRequest request)
    {
        var header = request.Header("Authorization");
        const string bearer = "Bearer ";
        var presented = header is not null && header.StartsWith(bearer, StringComparison.OrdinalIgnoreCase) ? header[bearer.Length..].Trim() : null;
        return string.Equals(presented, ApiKey, StringComparison.Ordinal) ? null : LagoError(401, "Unauthorized");
    }

    private protected override VendorResponse InjectedFailure(int status) => status switch
    {
        422 => Validation("event", "injected_failure"),
        429 => LagoError(429, "Too Many Requests"),
        >= 500 => LagoError(status, "Internal Server Error"),
        _ => LagoError(status, "Injected failure"),
    };

    private protected override Task<VendorResponse> HandleAsync(FakeRequest request, CancellationToken cancellationToken)
    {
        var segments = request.Path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var response = segments switch
        {
            ["api", "v1", "events"] when request.IsPost => CreateEvent(request),
            _ => new VendorResponse(404, VendorResponse.Serialize(new JsonObject
            {
                ["status"] = 404,
                ["error"] = "Not Found",
                ["code"] = "route_not_found",
            })),
        };
        return Task.FromResult(response);
    }

    private VendorResponse CreateEvent(FakeRequest request)
    {
        JsonObject? input;
        try
        {
            input = JsonNode.Parse(request.Body) is JsonObject root ? root["event"] as JsonObject : null;
        }
        catch (JsonException)
        {
            return LagoError(400, "Bad Request");
        }

        if (input is null)
        {
            return new VendorResponse(400, VendorResponse.Serialize(new JsonObject
            {
                ["status"] = 400,
                ["error"] = "BadRequest: param is missing or the value is empty: event",
            }));
        }

        foreach (var required in (string[])["transaction_id", "external_subscription_id", "code"])
        {
            if (Text(input[required]) is not { Length: > 0 })
            {
                return Validation(required, "value_is_mandatory");
            }
        }

        var timestamp = request.ReceivedAt.ToUnixTimeSeconds();
        if (input["timestamp"] is { } timestampNode)
        {
            if (!decimal.TryParse(Text(timestampNode) ?? timestampNode.ToJsonString(), NumberStyles.Number, CultureInfo.InvariantCulture, out var seconds))
            {
                return Validation("timestamp", "invalid_format");
            }

            timestamp = (long)decimal.Truncate(seconds);
        }

        decimal? precise = null;
        if (input["precise_total_amount_cents"] is { } preciseNode)
        {
            if (!decimal.TryParse(Text(preciseNode) ?? preciseNode.ToJsonString(), NumberStyles.Number, CultureInfo.InvariantCulture, out var cents))
            {
                return Validation("precise_total_amount_cents", "invalid_value");
            }

            precise = cents;
        }

        if (input["properties"] is { } props && props is not JsonObject)
        {
            return Validation("properties", "invalid_type");
        }

        var accepted = new LagoEvent(
            Text(input["transaction_id"])!,
            Text(input["external_subscription_id"])!,
            Text(input["code"])!,
            timestamp,
            input["properties"]?.DeepClone() as JsonObject ?? [],
            precise);
        lock (_state)
        {
            if (_events.Exists(e => e.TransactionId == accepted.TransactionId && e.ExternalSubscriptionId == accepted.ExternalSubscriptionId))
            {
                return Validation("transaction_id", "value_already_exist");
            }

            _events.Add(accepted);
        }

        var now = request.ReceivedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        return new VendorResponse(200, VendorResponse.Serialize(new JsonObject
        {
            ["event"] = new JsonObject
            {
                ["lago_id"] = Guid.NewGuid().ToString(),
                ["transaction_id"] = accepted.TransactionId,
                ["lago_customer_id"] = null,
                ["code"] = accepted.Code,
                ["timestamp"] = DateTimeOffset.FromUnixTimeSeconds(accepted.Timestamp).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
                ["precise_total_amount_cents"] = precise?.ToString(CultureInfo.InvariantCulture),
                ["properties"] = accepted.Properties.DeepClone(),
                ["lago_subscription_id"] = null,
                ["external_subscription_id"] = accepted.ExternalSubscriptionId,
                ["created_at"] = now,
            },
        }))
        {
            ObjectId = accepted.TransactionId,
        };
    }

    private static string? Text(JsonNode? node) =>
        node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    private static VendorResponse Validation(string field, string error) =>
        new(422, VendorResponse.Serialize(new JsonObject
        {
            ["status"] = 422,
            ["error"] = "Unprocessable entity",
            ["code"] = "validation_errors",
            ["error_details"] = new JsonObject { [field] = new JsonArray(error) },
        }));

    private static VendorResponse LagoError(int status, string error) =>
        new(status, VendorResponse.Serialize(new JsonObject { ["status"] = status, ["error"] = error }));
}
