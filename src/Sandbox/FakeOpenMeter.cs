using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Keybrake.Sandbox;

/// <summary>A CloudEvent the fake OpenMeter ingested.</summary>
/// <param name="Id">id (unique per source).</param>
/// <param name="Source">source.</param>
/// <param name="Type">type: the meter's event type.</param>
/// <param name="Subject">subject: the customer.</param>
/// <param name="Time">time (the receive time when absent).</param>
/// <param name="Data">data, as sent (null when absent).</param>
public sealed record OpenMeterEvent(string Id, string Source, string Type, string Subject, DateTimeOffset Time, JsonNode? Data);

/// <summary>
/// Fake OpenMeter ingestion: <c>POST /api/v1/events</c> with one CloudEvent
/// (<c>application/cloudevents+json</c>) or a list (<c>application/cloudevents-batch+json</c>), Bearer
/// auth. Like OpenMeter it answers 204 to every valid request and drops an event whose
/// <c>source</c> + <c>id</c> it already has without saying so; invalid events get a 400 problem document.
/// </summary>
public sealed class FakeOpenMeter : FakeVendor
{
    private readonly Lock _state = new();
    private readonly List<OpenMeterEvent> _events = [];
    private int _droppedDuplicates;

    private FakeOpenMeter(FakeOpenMeterOptions options)
        : base(options)
    {
        Options = options;
        ApiKey = options.ApiKey ?? "om_" + FakeIds.Alnum(32);
    }

    public override string Vendor => "openmeter";

    /// <summary>The token the fake accepts as <c>Authorization: Bearer ...</c>.</summary>
    public string ApiKey { get; }

    public FakeOpenMeterOptions Options { get; }

    /// <summary>Events ingested so far, oldest first (snapshot); silently dropped duplicates are not here.</summary>
    public IReadOnlyList<OpenMeterEvent> Events
    {
        get
        {
            lock (_state)
            {
                return _events.ToArray();
            }
        }
    }

    /// <summary>How many events were dropped as duplicates (the client was told 204 all the same).</summary>
    public int DroppedDuplicates
    {
        get
        {
            lock (_state)
            {
                return _droppedDuplicates;
            }
        }
    }

    public static Task<FakeOpenMeter> StartAsync(FakeOpenMeterOptions? options = null, CancellationToken cancellationToken = default) =>
        StartAsync(new FakeOpenMeter(options ?? new FakeOpenMeterOptions()), cancellationToken);

    private protected override VendorResponse? Authenticate(FakeRequest request)
    {
        var header = request.Header("Authorization");
        const string bearer = "Bearer ";
        var presented = header is not null && header.StartsWith(bearer, StringComparison.OrdinalIgnoreCase) ? header[bearer.Length..].Trim() : null;
        return string.Equals(presented, ApiKey, StringComparison.Ordinal) ? null : Problem(401, "Unauthorized", "Missing or invalid API token.");
    }

    private protected override VendorResponse InjectedFailure(int status) => status switch
    {
        429 => Problem(429, "Too Many Requests", "Rate limit exceeded."),
        >= 500 => Problem(status, "Internal Server Error", "An unexpected error occurred."),
        _ => Problem(status, "Injected failure", $"Injected failure (HTTP {status})."),
    };

    private protected override Task<VendorResponse> HandleAsync(FakeRequest request, CancellationToken cancellationToken)
    {
        var segments = request.Path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var response = segments switch
        {
            ["api", "v1", "events"] when request.IsPost => Ingest(request),
            _ => Problem(404, "Not Found", "No such route."),
        };
        return Task.FromResult(response);
    }

    private VendorResponse Ingest(FakeRequest request)
    {
        var contentType = request.Header("Content-Type") ?? string.Empty;
        var batch = contentType.StartsWith("application/cloudevents-batch+json", StringComparison.OrdinalIgnoreCase);
        if (!batch && !contentType.StartsWith("application/cloudevents+json", StringComparison.OrdinalIgnoreCase))
        {
            return Problem(415, "Unsupported Media Type", "Send application/cloudevents+json or application/cloudevents-batch+json.");
        }

        JsonNode? body;
        try
        {
            body = JsonNode.Parse(request.Body);
        }
        catch (JsonException)
        {
            return Problem(400, "Bad Request", "The body is not valid JSON.");
        }

        JsonNode?[] items = batch ? body is JsonArray array ? [.. array] : [] : [body];
        if (items.Length == 0)
        {
            return Problem(400, "Bad Request", batch ? "A batch must be a non-empty array of CloudEvents." : "The body must be a CloudEvent.");
        }

        var parsed = new List<OpenMeterEvent>();
        foreach (var item in items)
        {
            if (Parse(item, request.ReceivedAt, out var cloudEvent) is { } invalid)
            {
                return Problem(400, "Bad Request", invalid);
            }

            parsed.Add(cloudEvent!);
        }

        lock (_state)
        {
            foreach (var cloudEvent in parsed)
            {
                if (_events.Exists(e => e.Source == cloudEvent.Source && e.Id == cloudEvent.Id))
                {
                    _droppedDuplicates++;
                }
                else
                {
                    _events.Add(cloudEvent);
                }
            }
        }

        return new VendorResponse(204, string.Empty, string.Empty) { ObjectId = parsed[0].Id };
    }

    /// <summary>Returns why the CloudEvent is invalid, or null with <paramref name="cloudEvent"/> set.</summary>
    private static string? Parse(JsonNode? node, DateTimeOffset receivedAt, out OpenMeterEvent? cloudEvent)
    {
        cloudEvent = null;
        if (node is not JsonObject e)
        {
            return "An event must be a JSON object.";
        }

        if (Text(e["specversion"]) != "1.0")
        {
            return "specversion must be \"1.0\".";
        }

        foreach (var required in (string[])["id", "source", "type", "subject"])
        {
            if (Text(e[required]) is not { Length: > 0 })
            {
                return $"{required} is required.";
            }
        }

        var time = receivedAt;
        if (e["time"] is { } timeNode
            && !DateTimeOffset.TryParse(Text(timeNode), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out time))
        {
            return "time must be an RFC 3339 timestamp.";
        }

        cloudEvent = new OpenMeterEvent(Text(e["id"])!, Text(e["source"])!, Text(e["type"])!, Text(e["subject"])!, time.ToUniversalTime(), e["data"]?.DeepClone());
        return null;
    }

    private static string? Text(JsonNode? node) =>
        node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    private static VendorResponse Problem(int status, string title, string detail) =>
        new(status, VendorResponse.Serialize(new JsonObject
        {
            ["type"] = "about:blank",
            ["title"] = title,
            ["status"] = status,
            ["detail"] = detail,
        }), "application/problem+json");
}
