using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Keybrake.Sandbox;

/// <summary>An email the fake Resend accepted.</summary>
/// <param name="Id">UUID.</param>
/// <param name="From">from.</param>
/// <param name="To">to, normalised to a list.</param>
/// <param name="Subject">subject.</param>
/// <param name="Html">html body, if any.</param>
/// <param name="Text">text body, if any.</param>
/// <param name="CreatedAt">When it was accepted.</param>
public sealed record FakeResendEmail(
    string Id,
    string From,
    IReadOnlyList<string> To,
    string? Subject,
    string? Html,
    string? Text,
    DateTimeOffset CreatedAt);

/// <summary>
/// Fake Resend API: <c>POST /emails</c>, <c>POST /emails/batch</c>, <c>GET /emails/{id}</c>, Bearer
/// auth, JSON in and out, Resend's error shape and Idempotency-Key semantics (same key and payload
/// replays without sending again; a different payload is 409 invalid_idempotent_request; a key
/// whose first request is still in flight is 409 concurrent_idempotent_requests). Only 2xx
/// responses are stored for replay.
/// </summary>
public sealed class FakeResend : FakeVendor
{
    private const int MaxBatch = 100;
    private const int MaxRecipients = 50;

    private readonly Lock _state = new();
    private readonly Dictionary<string, (FakeResendEmail Email, JsonObject Stored)> _emails = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];
    private readonly Dictionary<string, IdempotencySlot> _idempotency = new(StringComparer.Ordinal);

    private FakeResend(FakeResendOptions options)
        : base(options)
    {
        Options = options;
        ApiKey = options.ApiKey ?? "re_" + FakeIds.Alnum(24);
    }

    public override string Vendor => "resend";

    /// <summary>The API key the fake accepts as <c>Authorization: Bearer ...</c>.</summary>
    public string ApiKey { get; }

    public FakeResendOptions Options { get; }

    /// <summary>Every email accepted so far, oldest first (snapshot). Replays add nothing.</summary>
    public IReadOnlyList<FakeResendEmail> Emails
    {
        get
        {
            lock (_state)
            {
                return _order.Select(id => _emails[id].Email).ToArray();
            }
        }
    }

    public static Task<FakeResend> StartAsync(FakeResendOptions? options = null, CancellationToken cancellationToken = default) =>
        StartAsync(new FakeResend(options ?? new FakeResendOptions()), cancellationToken);

    private protected override VendorResponse? Authenticate(FakeRequest request)
    {
        var header = request.Header("Authorization");
        const string bearer = "Bearer ";
        if (header is null || !header.StartsWith(bearer, StringComparison.OrdinalIgnoreCase) || header.Length == bearer.Length)
        {
            return ResendError(401, "missing_api_key",
                "Missing API key in the authorization header. Include the following header `Authorization: Bearer YOUR_API_KEY` in the request.");
        }

        return string.Equals(header[bearer.Length..].Trim(), ApiKey, StringComparison.Ordinal)
            ? null
            : ResendError(403, "invalid_api_key", "API key is invalid");
    }

    private protected override VendorResponse InjectedFailure(int status) => status switch
    {
        400 => ResendError(400, "invalid_request", "Injected failure."),
        401 => ResendError(401, "missing_api_key", "Missing API key in the authorization header."),
        403 => ResendError(403, "invalid_api_key", "API key is invalid"),
        404 => ResendError(404, "not_found", "The requested endpoint does not exist."),
        409 => ResendError(409, "concurrent_idempotent_requests",
            "Same idempotency key used while original request is still in progress. Try the request again later."),
        422 => ResendError(422, "validation_error", "Injected validation failure."),
        429 => ResendError(429, "rate_limit_exceeded",
                "Too many requests. You can only make 5 requests per second. See rate limit response headers for more information. Or contact support to increase rate limit.")
            .WithHeader("ratelimit-limit", "5")
            .WithHeader("ratelimit-remaining", "0")
            .WithHeader("ratelimit-reset", "1")
            .WithHeader("retry-after", "1"),
        _ => ResendError(status, "application_error", "An unexpected error occurred, please try again later."),
    };

    private protected override Task<VendorResponse> HandleAsync(FakeRequest request, CancellationToken cancellationToken)
    {
        var segments = request.Path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        VendorResponse response;
        lock (_state)
        {
            response = segments switch
            {
                ["emails"] when request.IsPost => WithIdempotency(request, SendOne),
                ["emails", "batch"] when request.IsPost => WithIdempotency(request, SendBatch),
                ["emails", var id] when request.IsGet => Retrieve(id),
                _ => ResendError(404, "not_found", "The requested endpoint does not exist."),
            };
        }

        return Task.FromResult(response);
    }

    private VendorResponse WithIdempotency(FakeRequest request, Func<FakeRequest, VendorResponse> send)
    {
        var key = request.Header("Idempotency-Key");
        if (string.IsNullOrEmpty(key))
        {
            return send(request);
        }

        if (key.Length > 256)
        {
            return ResendError(400, "invalid_idempotency_key", "Idempotency key must be between 1-256 chars.");
        }

        var fingerprint = request.Path + "\n" + request.Body;
        if (_idempotency.TryGetValue(key, out var slot))
        {
            if (!string.Equals(slot.Fingerprint, fingerprint, StringComparison.Ordinal))
            {
                return ResendError(409, "invalid_idempotent_request",
                    "Same idempotency key used with a different request payload. Change your idempotency key or payload.");
            }

            if (slot.Stored is not { } stored)
            {
                return ResendError(409, "concurrent_idempotent_requests",
                    "Same idempotency key used while original request is still in progress. Try the request again later.");
            }

            return new VendorResponse(stored.Status, stored.Body, stored.ContentType)
            {
                Replayed = true,
                ObjectId = stored.ObjectId,
                EmailCount = stored.EmailCount,
            };
        }

        var fresh = new IdempotencySlot(fingerprint);
        _idempotency[key] = fresh;
        var response = send(request);
        response.Completed = response.Status is >= 200 and < 300
            ? () =>
            {
                lock (_state)
                {
                    fresh.Stored = response;
                }
            }
            : () =>
            {
                lock (_state)
                {
                    _idempotency.Remove(key);
                }
            };
        return response;
    }

    private VendorResponse SendOne(FakeRequest request)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(request.Body, documentOptions: LenientJson);
        }
        catch (JsonException)
        {
            return ResendError(422, "validation_error", "Invalid JSON body.");
        }

        if (node is not JsonObject email)
        {
            return ResendError(422, "validation_error", "The request body must be a JSON object.");
        }

        if (Validate(email, out var to) is { } invalid)
        {
            return ResendError(422, "validation_error", invalid);
        }

        var accepted = Store(email, to, request.ReceivedAt);
        return new VendorResponse(200, VendorResponse.Serialize(new JsonObject { ["id"] = accepted.Id }), "application/json; charset=utf-8")
        {
            ObjectId = accepted.Id,
            EmailCount = 1,
        };
    }

    /// <summary>
    /// Rule: bodies are read as JSON whatever their content type says, leniently (comments and trailing
    /// commas allowed; a byte-order mark was already dropped by the reader). The proxy must refuse what it
    /// would read otherwise.
    /// </summary>
    private static readonly JsonDocumentOptions LenientJson = new() { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip };

    private VendorResponse SendBatch(FakeRequest request)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(request.Body, documentOptions: LenientJson);
        }
        catch (JsonException)
        {
            return ResendError(422, "validation_error", "Invalid JSON body.");
        }

        if (node is not JsonArray array)
        {
            return ResendError(422, "validation_error", "The request body must be an array of emails.");
        }

        if (array.Count is 0 or > MaxBatch)
        {
            return ResendError(422, "validation_error", $"A batch must contain between 1 and {MaxBatch} emails.");
        }

        var valid = new List<(JsonObject Email, IReadOnlyList<string> To)>();
        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonObject email)
            {
                return ResendError(422, "validation_error", $"emails[{i}]: must be an object.");
            }

            if (Validate(email, out var to) is { } invalid)
            {
                return ResendError(422, "validation_error", $"emails[{i}]: {invalid}");
            }

            valid.Add((email, to));
        }

        var data = new JsonArray();
        string? first = null;
        foreach (var (email, to) in valid)
        {
            var accepted = Store(email, to, request.ReceivedAt);
            first ??= accepted.Id;
            data.Add(new JsonObject { ["id"] = accepted.Id });
        }

        return new VendorResponse(200, VendorResponse.Serialize(new JsonObject { ["data"] = data }), "application/json; charset=utf-8")
        {
            ObjectId = first,
            EmailCount = valid.Count,
        };
    }

    private VendorResponse Retrieve(string id) =>
        _emails.TryGetValue(id, out var email)
            ? new VendorResponse(200, VendorResponse.Serialize(email.Stored), "application/json; charset=utf-8") { ObjectId = id }
            : ResendError(404, "not_found", "Email not found");

    private FakeResendEmail Store(JsonObject email, IReadOnlyList<string> to, DateTimeOffset now)
    {
        var accepted = new FakeResendEmail(
            Guid.NewGuid().ToString(),
            (string)email["from"]!,
            to,
            StringOrNull(email["subject"]),
            StringOrNull(email["html"]),
            StringOrNull(email["text"]),
            now);
        var toArray = new JsonArray();
        foreach (var address in to)
        {
            toArray.Add(address);
        }

        var stored = new JsonObject
        {
            ["object"] = "email",
            ["id"] = accepted.Id,
            ["to"] = toArray,
            ["from"] = accepted.From,
            ["created_at"] = now.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'+00:00'", CultureInfo.InvariantCulture),
            ["subject"] = accepted.Subject,
            ["html"] = accepted.Html,
            ["text"] = accepted.Text,
            ["bcc"] = email["bcc"]?.DeepClone(),
            ["cc"] = email["cc"]?.DeepClone(),
            ["reply_to"] = email["reply_to"]?.DeepClone(),
            ["last_event"] = "delivered",
            ["scheduled_at"] = null,
        };
        _emails[accepted.Id] = (accepted, stored);
        _order.Add(accepted.Id);
        return accepted;
    }

    /// <summary>Returns an error message, or null when the email is valid.</summary>
    private static string? Validate(JsonObject email, out IReadOnlyList<string> to)
    {
        to = [];
        if (StringOrNull(email["from"]) is not { Length: > 0 })
        {
            return "The `from` field is required.";
        }

        var recipients = new List<string>();
        switch (email["to"])
        {
            case JsonValue value when value.TryGetValue<string>(out var single) && single.Length > 0:
                recipients.Add(single);
                break;
            case JsonArray list:
                foreach (var item in list)
                {
                    if (item is not JsonValue v || !v.TryGetValue<string>(out var address) || address.Length == 0)
                    {
                        return "The `to` field must be a string or an array of strings.";
                    }

                    recipients.Add(address);
                }

                break;
        }

        if (recipients.Count == 0)
        {
            return "The `to` field is required.";
        }

        if (recipients.Count > MaxRecipients)
        {
            return $"The `to` field accepts at most {MaxRecipients} recipients.";
        }

        if (StringOrNull(email["subject"]) is null)
        {
            return "The `subject` field is required.";
        }

        to = recipients;
        return null;
    }

    private static string? StringOrNull(JsonNode? node) =>
        node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    private static VendorResponse ResendError(int status, string name, string message) =>
        new(status, VendorResponse.Serialize(new JsonObject
        {
            ["statusCode"] = status,
            ["name"] = name,
            ["message"] = message,
        }), "application/json; charset=utf-8");

    private sealed class IdempotencySlot(string fingerprint)
    {
        public string Fingerprint { get; } = fingerprint;

        public VendorResponse? Stored { get; set; }
    }
}
