using System.Globalization;
using System.Text.Json;
using Keybrake.Domain.Pricing;
using Keybrake.Domain.Proxy;

namespace Keybrake.Domain.Vendors;

/// <summary>
/// Twilio: Basic auth whose password is the vault key (the user is any Account SID); upstream the proxy
/// sends the real <c>AccountSid:AuthToken</c> and rewrites the <c>Accounts/{sid}</c> segment. A message's
/// price is usually null at creation, so its cost is estimated from segments and settled later.
/// </summary>
public sealed class TwilioVendor(PricingOptions pricing) : VendorDefinition
{
    public override string Name => "twilio";

    public override Uri DefaultBaseUrl { get; } = new("https://api.twilio.com/");

    public override IReadOnlyList<string> SecretNames { get; } = [Secrets.SecretNames.TwilioAccountSid, Secrets.SecretNames.TwilioAuthToken];

    // The Account SID is an identifier every Twilio answer carries (account_sid, uri); the auth token is the credential.
    public override IReadOnlyList<string> CredentialSecretNames { get; } = [Secrets.SecretNames.TwilioAuthToken];

    // Twilio's REST API documents no request headers beyond content type and negotiation.
    public override IReadOnlySet<string> ForwardedRequestHeaders { get; } = WithCommon();

    public override string RequestIdHeader => "Twilio-Request-Id";

    public override string? ReadVaultKey(string? authorization) => Basic(authorization)?.Password ?? Bearer(authorization);

    public override UpstreamAuthorization Authorize(IReadOnlyDictionary<string, string> secrets, IReadOnlyList<string> segments)
    {
        string sid = secrets[Secrets.SecretNames.TwilioAccountSid];
        string[] rewritten = [.. segments];
        for (int i = 0; i + 1 < rewritten.Length; i++)
        {
            if (rewritten[i] == "Accounts")
            {
                // Keep a format suffix on the SID segment (…/Accounts/{sid}.json).
                string suffix = FormatSuffix(rewritten[i + 1]);
                rewritten[i + 1] = sid + suffix;
                break;
            }
        }

        return new UpstreamAuthorization(BasicHeader(sid, secrets[Secrets.SecretNames.TwilioAuthToken]), rewritten);
    }

    public override IReadOnlyList<string> MatchSegments(IReadOnlyList<string> segments)
    {
        if (segments.Count == 0)
        {
            return segments;
        }

        string last = segments[^1];
        string suffix = FormatSuffix(last);
        return suffix.Length == 0 ? segments : [.. segments.Take(segments.Count - 1), last[..^suffix.Length]];
    }

    public override string Operation(string method, IReadOnlyList<string> segments)
    {
        IReadOnlyList<string> path = MatchSegments(segments);

        // /2010-04-01/Accounts/{sid}/{Resource}[/{id}]: name the resource after the account.
        int start = path.Count >= 3 && path[1] == "Accounts" ? 3 : 1;
        var names = new List<string>();
        for (int i = start; i < path.Count; i += 2)
        {
            names.Add(path[i].ToLowerInvariant());
        }

        if (names.Count == 0)
        {
            names.Add("accounts");
        }

        bool collection = (path.Count - start) % 2 == 1;
        string verb = (method, collection) switch
        {
            ("POST", true) => "create",
            ("POST", false) => "update",
            ("GET", true) => "list",
            ("GET", false) => "fetch",
            ("DELETE", _) => "delete",
            _ => method.ToLowerInvariant(),
        };
        return string.Join('.', names) + "." + verb;
    }

    /// <summary>Writes known not to move money (redacting or cancelling a message); every other unknown write is unbounded.</summary>
    private static readonly HashSet<string> FreeWrites = new(StringComparer.Ordinal) { "messages.update" };

    /// <summary>Twilio refuses a body longer than this; the bound never counts past it.</summary>
    public const int MaxBodyChars = 1600;

    public override CostEstimate Estimate(ProxyCall call)
    {
        if (call.Method is "GET" or "HEAD" or "OPTIONS" or "DELETE" || FreeWrites.Contains(call.Operation))
        {
            return CostEstimate.Free;
        }

        // Twilio reads parameters from the query string as well as the form body.
        RequestParameters parameters = RequestParameters.Read(call.Query, call.ContentType, call.ContentEncoding, call.Body.Span);
        if (call.Operation != "messages.create")
        {
            // A call, a number purchase, anything new: nothing in the request bounds it.
            return CostEstimate.Unbounded;
        }

        if (parameters.Count("Body") > 1)
        {
            // Twilio does not document which of two bodies it sends; both readings are possible.
            throw RequestParameters.Unreadable("'Body' is given more than once.");
        }

        string? text = parameters.Last("Body");
        if (parameters.Any(name => name.StartsWith("MediaUrl", StringComparison.Ordinal)))
        {
            // A media message is priced per message, not per segment (and its text rides along).
            return new CostEstimate(Currencies.PriceMicros(pricing.TwilioPricePerMediaMessageUsd, 1) + SegmentsMicros(text), "usd");
        }

        return new CostEstimate(SegmentsMicros(text), "usd");
    }

    private long SegmentsMicros(string? text) => Currencies.PriceMicros(pricing.TwilioPricePerSegmentUsd, SmsSegments.Count(text));

    public override bool CostNeedsResponseBody(ProxyCall call) =>
        call.Method is not ("GET" or "HEAD" or "OPTIONS" or "DELETE") && !FreeWrites.Contains(call.Operation);

    protected override CallCost SettleFromResponse(ProxyCall call, CostEstimate estimate, JsonElement root)
    {
        string? sid = root.TryGetProperty("sid", out JsonElement sidElement) ? sidElement.GetString() : null;
        long? price = ParsePrice(root);
        if (price is not null)
        {
            return new CallCost(price.Value, CostSource.Parsed, Currency: "usd", VendorObjectId: sid);
        }

        if (call.Operation != "messages.create")
        {
            // Unbounded writes keep their reservation until the vendor prices them.
            return new CallCost(estimate.CostMicros, CostSource.Estimated, Currency: "usd", VendorObjectId: sid);
        }

        if (root.TryGetProperty("num_media", out JsonElement media) && media.ValueKind == JsonValueKind.String && media.GetString() is not (null or "0"))
        {
            // A media message's price is not in its segments: the bound stands until Twilio prices it.
            return new CallCost(estimate.CostMicros, CostSource.Estimated, Currency: "usd", VendorObjectId: sid);
        }

        // The price comes later; the response's own segment count beats ours when it has one.
        long segments = root.TryGetProperty("num_segments", out JsonElement n) && n.ValueKind == JsonValueKind.String &&
                        long.TryParse(n.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out long parsed) && parsed > 0
            ? parsed
            : 0;
        long cost = segments > 0 ? Currencies.PriceMicros(pricing.TwilioPricePerSegmentUsd, segments) : estimate.CostMicros;
        return new CallCost(cost, CostSource.Estimated, Currency: "usd", VendorObjectId: sid);
    }

    public override IReadOnlyList<string>? SettlementPath(string? operation, string? objectId) =>
        operation == "messages.create" && !string.IsNullOrEmpty(objectId)
            ? ["2010-04-01", "Accounts", "account", "Messages", objectId + ".json"]
            : null;

    public override long? SettledCost(JsonElement root) => ParsePrice(root);

    /// <summary>Twilio prices are negative decimal strings (<c>"-0.00830"</c>); the cost is their magnitude.</summary>
    public static long? ParsePrice(JsonElement message)
    {
        if (!message.TryGetProperty("price", out JsonElement price) || price.ValueKind != JsonValueKind.String ||
            !decimal.TryParse(price.GetString(), NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal value))
        {
            return null;
        }

        return Currencies.PriceMicros(Math.Abs(value), 1);
    }

    /// <summary>
    /// Twilio keeps no owner on a message, so ownership lives only in Keybrake's table: a path naming a
    /// resource id (<c>Messages/{Sid}</c>, its <c>Media</c>, ...) is checked, creates are recorded, lists are
    /// refused (filtering them would need one table read per message). Calls on the account itself
    /// (<c>Accounts/{sid}.json</c>) and Twilio paths outside an account are refused.
    /// </summary>
    public override ObjectScope Objects(ProxyCall call, string? query)
    {
        IReadOnlyList<string> path = MatchSegments(call.Segments);
        if (path.Count < 4 || path[1] != "Accounts")
        {
            return new ObjectScope([], Refusal: "Only resources under Accounts/{AccountSid} can be scoped to a tenant on a shared Twilio account.");
        }

        // Only the top resource's id: nested ids (a message's media) belong to it.
        IReadOnlyList<NamedObject> named = path.Count >= 5 ? [new NamedObject(path[4], null)] : [];

        bool collection = path.Count == 4;
        return new ObjectScope(
            named,
            collection && call.Method == "GET" ? ListScope.Refuse : ListScope.None,
            Creates: collection && call.Method == "POST");
    }

    public override IReadOnlyList<string> CreatedObjects(ProxyCall call, JsonElement root) =>
        OwnershipJson.Text(root, "sid") is string sid ? [sid] : [];

    public override VendorErrorBody Error(int status, string code, string message) => new(
        "application/json",
        JsonSerializer.Serialize(new
        {
            code = status switch { 401 => 20003, 403 => 20403, 404 => 20404, 429 => 20429, >= 500 => 20500, _ => 21000 + status },
            message,
            more_info = "keybrake:" + code,
            status,
            keybrake_code = code,
        }));

    private static string FormatSuffix(string segment) =>
        segment.EndsWith(".json", StringComparison.Ordinal) ? ".json"
        : segment.EndsWith(".xml", StringComparison.Ordinal) ? ".xml"
        : string.Empty;
}
