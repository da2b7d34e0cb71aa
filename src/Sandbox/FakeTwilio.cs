using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.WebUtilities;

namespace Keybrake.Sandbox;

/// <summary>A message as the fake Twilio currently holds it.</summary>
/// <param name="Sid">SM + 32 hex digits.</param>
/// <param name="To">Recipient.</param>
/// <param name="From">Sender number, or null when sent through a Messaging Service.</param>
/// <param name="MessagingServiceSid">MG..., when used.</param>
/// <param name="Body">Message text.</param>
/// <param name="Segments">The fake's own segment count for <paramref name="Body"/>.</param>
/// <param name="Status">queued, accepted, delivered or failed.</param>
/// <param name="PriceUsd">Settled price as a positive USD amount, null until settled.</param>
/// <param name="ErrorCode">Twilio error code of a failed message.</param>
/// <param name="DateCreated">Creation time.</param>
public sealed record FakeTwilioMessage(
    string Sid,
    string To,
    string? From,
    string? MessagingServiceSid,
    string Body,
    SmsSegmentCount Segments,
    string Status,
    decimal? PriceUsd,
    int? ErrorCode,
    DateTimeOffset DateCreated,
    int Media = 0);

/// <summary>
/// Fake Twilio REST API (2010-04-01 Messages): Basic auth AccountSid:AuthToken, form-encoded
/// requests, JSON responses shaped like the real ones (string num_segments, null price until the
/// message settles, then a negative 5-decimal price string). Settlement is driven by the test
/// through <see cref="SettleAll"/>, <see cref="Settle"/> and <see cref="FailMessage"/>, which also
/// fill <see cref="LedgerEntry.PriceUsd"/> on the ledger entry of the create call.
/// </summary>
public sealed class FakeTwilio : FakeVendor
{
    private const string ApiVersion = "2010-04-01";

    private readonly Lock _state = new();
    private readonly Dictionary<string, FakeTwilioMessage> _messages = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];

    private FakeTwilio(FakeTwilioOptions options)
        : base(options)
    {
        Options = options;
        AccountSid = options.AccountSid ?? FakeIds.TwilioSid("AC");
        AuthToken = options.AuthToken ?? FakeIds.TwilioSid(string.Empty);
    }

    public override string Vendor => "twilio";

    /// <summary>"AC" + 32 hex digits: the Basic-auth user and the Accounts/{sid} path segment it accepts.</summary>
    public string AccountSid { get; }

    /// <summary>The Basic-auth password it accepts.</summary>
    public string AuthToken { get; }

    public FakeTwilioOptions Options { get; }

    /// <summary>Every message created so far, oldest first, with its current status and price (snapshot).</summary>
    public IReadOnlyList<FakeTwilioMessage> Messages
    {
        get
        {
            lock (_state)
            {
                return _order.Select(sid => _messages[sid]).ToArray();
            }
        }
    }

    /// <summary>Rule: like Stripe, Twilio reads the query string and the body together (<see cref="FakeRequest.Parameters"/>).</summary>
    private protected override bool ReadsJsonBodyAsParameters => true;

    public static Task<FakeTwilio> StartAsync(FakeTwilioOptions? options = null, CancellationToken cancellationToken = default) =>
        StartAsync(new FakeTwilio(options ?? new FakeTwilioOptions()), cancellationToken);

    /// <summary>
    /// Settles every unsettled message: status delivered, price = segments × PricePerSegmentUsd.
    /// Returns how many messages settled.
    /// </summary>
    public int SettleAll()
    {
        List<string> sids;
        lock (_state)
        {
            sids = _order.Where(sid => _messages[sid].PriceUsd is null).ToList();
        }

        return sids.Count(Settle);
    }

    /// <summary>Settles one message as delivered; false if unknown or already settled.</summary>
    public bool Settle(string messageSid) => SettleCore(messageSid, failedErrorCode: null);

    /// <summary>
    /// Settles one message as failed (status failed, the given error code, price
    /// FailedMessagePriceUsd, default $0.001); false if unknown or already settled.
    /// </summary>
    public bool FailMessage(string messageSid, int errorCode = 30008) => SettleCore(messageSid, errorCode);

    private protected override VendorResponse? Authenticate(FakeRequest request)
    {
        var header = request.Header("Authorization");
        string? user = null;
        string? password = null;
        const string basic = "Basic ";
        if (header is not null && header.StartsWith(basic, StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header[basic.Length..].Trim()));
                var colon = decoded.IndexOf(':', StringComparison.Ordinal);
                if (colon >= 0)
                {
                    user = decoded[..colon];
                    password = decoded[(colon + 1)..];
                }
            }
            catch (FormatException)
            {
                // Falls through to 401.
            }
        }

        var segments = request.Path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var pathSidMatches = segments is not [ApiVersion, "Accounts", var pathSid, ..]
            || string.Equals(TrimFormat(pathSid), AccountSid, StringComparison.Ordinal);

        var authenticated = string.Equals(user, AccountSid, StringComparison.Ordinal)
            && string.Equals(password, AuthToken, StringComparison.Ordinal)
            && pathSidMatches;
        return authenticated ? null : TwilioError(401, 20003, "Authenticate");
    }

    private protected override VendorResponse InjectedFailure(int status)
    {
        var response = status switch
        {
            401 => TwilioError(401, 20003, "Authenticate"),
            404 => TwilioError(404, 20404, "The requested resource was not found"),
            429 => TwilioError(429, 20429, "Too Many Requests"),
            500 => TwilioError(500, 20500, "Internal Server Error"),
            503 => TwilioError(503, 20503, "Service Unavailable"),
            _ => TwilioError(status, 20000 + status, ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase ? phrase : "Error"),
        };
        return response;
    }

    private protected override void Decorate(VendorResponse response)
    {
        if (!response.HasHeader("Twilio-Request-Id"))
        {
            response.WithHeader("Twilio-Request-Id", FakeIds.TwilioSid("RQ"));
        }
    }

    private protected override Task<VendorResponse> HandleAsync(FakeRequest request, CancellationToken cancellationToken)
    {
        var segments = request.Path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        VendorResponse response;
        lock (_state)
        {
            response = segments switch
            {
                [ApiVersion, "Accounts", _, "Messages.json"] when request.IsPost => CreateMessage(request),
                [ApiVersion, "Accounts", _, "Messages.json"] when request.IsGet => ListMessages(request),
                [ApiVersion, "Accounts", _, "Messages", var file] when request.IsGet && file.EndsWith(".json", StringComparison.Ordinal) =>
                    FetchMessage(request, file[..^".json".Length]),
                _ => TwilioError(404, 20404, $"The requested resource {request.Path} was not found"),
            };
        }

        return Task.FromResult(response);
    }

    private VendorResponse CreateMessage(FakeRequest request)
    {
        var to = request.Param("To");
        var from = request.Param("From");
        var serviceSid = request.Param("MessagingServiceSid");
        var body = request.Param("Body");

        if (string.IsNullOrWhiteSpace(to))
        {
            return TwilioError(400, 21604, "A 'To' phone number is required.");
        }

        if (!IsPhoneNumber(to))
        {
            return TwilioError(400, 21211, $"The 'To' number {to} is not a valid phone number.");
        }

        if (string.IsNullOrWhiteSpace(from) && string.IsNullOrWhiteSpace(serviceSid))
        {
            return TwilioError(400, 21603, "A 'From' phone number is required.");
        }

        // Rule: every MediaUrl given (the parameter repeats, one per attachment) makes it a media message.
        var media = request.Parameters.Count(p => p.Key.StartsWith("MediaUrl", StringComparison.Ordinal));
        if (string.IsNullOrEmpty(body) && media == 0)
        {
            return TwilioError(400, 21602, "Message body is required.");
        }

        body ??= string.Empty;
        if (body.Length > 1600)
        {
            return TwilioError(400, 21617, "The concatenated message body exceeds the 1600 character limit.");
        }

        var viaService = string.IsNullOrWhiteSpace(from);
        var message = new FakeTwilioMessage(
            FakeIds.TwilioSid("SM"),
            to,
            viaService ? null : from,
            string.IsNullOrWhiteSpace(serviceSid) ? null : serviceSid,
            body,
            SmsSegments.Count(body),
            viaService ? "accepted" : "queued",
            null,
            null,
            request.ReceivedAt,
            media);
        _messages[message.Sid] = message;
        _order.Add(message.Sid);

        var json = Render(message, segmentsKnown: !viaService);
        decimal? settled = null;
        if (Options.SettleImmediately)
        {
            settled = PriceOf(message);
            _messages[message.Sid] = message with { Status = "delivered", PriceUsd = settled };
        }

        return new VendorResponse(201, VendorResponse.Serialize(json), "application/json; charset=utf-8")
        {
            ObjectId = message.Sid,
            Segments = message.Segments.Segments,
            PriceUsd = settled,
        };
    }

    private VendorResponse FetchMessage(FakeRequest request, string sid)
    {
        if (!_messages.TryGetValue(sid, out var message))
        {
            return TwilioError(404, 20404, $"The requested resource {request.Path} was not found");
        }

        return new VendorResponse(200, VendorResponse.Serialize(Render(message, segmentsKnown: true)), "application/json; charset=utf-8")
        {
            ObjectId = sid,
            Segments = message.Segments.Segments,
            PriceUsd = message.PriceUsd,
        };
    }

    private VendorResponse ListMessages(FakeRequest request)
    {
        var pageSize = 50;
        if (request.Param("PageSize") is { } sizeText)
        {
            _ = int.TryParse(sizeText, NumberStyles.None, CultureInfo.InvariantCulture, out pageSize);
            pageSize = Math.Clamp(pageSize, 1, 1000);
        }

        var messages = new JsonArray();
        foreach (var sid in Enumerable.Reverse(_order).Take(pageSize))
        {
            messages.Add(Render(_messages[sid], segmentsKnown: true));
        }

        var uri = $"/{ApiVersion}/Accounts/{AccountSid}/Messages.json?PageSize={pageSize}&Page=0";
        var json = new JsonObject
        {
            ["messages"] = messages,
            ["end"] = Math.Max(0, messages.Count - 1),
            ["first_page_uri"] = uri,
            ["next_page_uri"] = null,
            ["page"] = 0,
            ["page_size"] = pageSize,
            ["previous_page_uri"] = null,
            ["start"] = 0,
            ["uri"] = uri,
        };
        return new VendorResponse(200, VendorResponse.Serialize(json), "application/json; charset=utf-8");
    }

    private bool SettleCore(string messageSid, int? failedErrorCode)
    {
        decimal price;
        lock (_state)
        {
            if (!_messages.TryGetValue(messageSid, out var message) || message.PriceUsd is not null)
            {
                return false;
            }

            price = failedErrorCode is null
                ? PriceOf(message)
                : Price(1, Options.FailedMessagePriceUsd);
            _messages[messageSid] = message with
            {
                Status = failedErrorCode is null ? "delivered" : "failed",
                PriceUsd = price,
                ErrorCode = failedErrorCode,
            };
        }

        UpdateLedger(e => e.ObjectId == messageSid && e.Status == 201 && e.PriceUsd is null ? e with { PriceUsd = price } : e);
        return true;
    }

    private JsonObject Render(FakeTwilioMessage message, bool segmentsKnown)
    {
        var uri = $"/{ApiVersion}/Accounts/{AccountSid}/Messages/{message.Sid}.json";
        var segments = segmentsKnown || message.PriceUsd is not null ? message.Segments.Segments : 0;
        return new JsonObject
        {
            ["sid"] = message.Sid,
            ["account_sid"] = AccountSid,
            ["to"] = message.To,
            ["from"] = message.From,
            ["body"] = message.Body,
            ["status"] = message.Status,
            ["direction"] = "outbound-api",
            ["num_segments"] = segments.ToString(CultureInfo.InvariantCulture),
            ["num_media"] = message.Media.ToString(CultureInfo.InvariantCulture),
            ["price"] = message.PriceUsd is { } price ? "-" + price.ToString("0.00000", CultureInfo.InvariantCulture) : null,
            ["price_unit"] = "USD",
            ["error_code"] = message.ErrorCode,
            ["error_message"] = message.ErrorCode is null ? null : "Unknown error",
            ["api_version"] = ApiVersion,
            ["date_created"] = Rfc2822(message.DateCreated),
            ["date_updated"] = Rfc2822(message.DateCreated),
            ["date_sent"] = message.Status is "delivered" or "failed" ? Rfc2822(message.DateCreated) : null,
            ["messaging_service_sid"] = message.MessagingServiceSid,
            ["uri"] = uri,
            ["subresource_uris"] = new JsonObject { ["media"] = uri[..^".json".Length] + "/Media.json" },
        };
    }

    /// <summary>Rule: segments × the per-segment price, plus the media price for a media message.</summary>
    private decimal PriceOf(FakeTwilioMessage message) =>
        Price(message.Segments.Segments, Options.PricePerSegmentUsd) + (message.Media > 0 ? Options.PricePerMediaMessageUsd : 0m);

    private static decimal Price(int segments, decimal perSegment) =>
        decimal.Round(segments * perSegment, 5, MidpointRounding.AwayFromZero);

    private static string Rfc2822(DateTimeOffset time) =>
        time.ToUniversalTime().ToString("ddd, dd MMM yyyy HH:mm:ss '+0000'", CultureInfo.InvariantCulture);

    private static string TrimFormat(string segment) =>
        segment.EndsWith(".json", StringComparison.Ordinal) ? segment[..^".json".Length] : segment;

    private static bool IsPhoneNumber(string value)
    {
        const string whatsapp = "whatsapp:";
        if (value.StartsWith(whatsapp, StringComparison.Ordinal))
        {
            value = value[whatsapp.Length..];
        }

        return value.Length is >= 8 and <= 16 && value[0] == '+' && value.AsSpan(1).IndexOfAnyExceptInRange('0', '9') < 0;
    }

    private static VendorResponse TwilioError(int status, int code, string message) =>
        new(status, VendorResponse.Serialize(new JsonObject
        {
            ["code"] = code,
            ["message"] = message,
            ["more_info"] = $"https://www.twilio.com/docs/errors/{code}",
            ["status"] = status,
        }), "application/json; charset=utf-8");
}
