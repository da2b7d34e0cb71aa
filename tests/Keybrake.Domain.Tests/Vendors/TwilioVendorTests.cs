using System.Text;
using System.Text.Json;
using Keybrake.Domain.Proxy;
using Keybrake.Domain.Tests.Generated;
using Keybrake.Domain.Vendors;

namespace Keybrake.Domain.Tests.Vendors;

/// <summary>
/// Twilio as plain domain logic: operation names, the Account SID rewrite (docs/design.md §3 step 7), the estimate from
/// segments and its settlement from the response shapes docs/vendors.md documents. $0.0100 per segment and
/// $0.0200 per media message (<see cref="TestPricing"/>).
/// </summary>
public sealed class TwilioVendorTests
{
    private const string Messages = "2010-04-01/Accounts/ACagent/Messages.json";

    // docs/vendors.md: the 201 answer to a create (strings everywhere, price null).
    private const string Created = """
        {"sid":"SM304417148af644198a0efaceebc965a5","account_sid":"AC1","to":"+15145535858","from":"+15149002890",
         "body":"test","status":"queued","direction":"outbound-api","num_segments":"1","num_media":"0",
         "price":null,"price_unit":"USD","error_code":null,"error_message":null,"api_version":"2010-04-01",
         "date_created":"Fri, 31 Oct 2014 03:39:29 +0000","uri":"/2010-04-01/Accounts/AC1/Messages/SM304417148af644198a0efaceebc965a5.json"}
        """;

    private readonly TwilioVendor _twilio = new(TestPricing.Options());

    [Theory]
    [InlineData("POST", "2010-04-01/Accounts/AC1/Messages.json", "messages.create")]
    [InlineData("POST", "2010-04-01/Accounts/AC1/Messages", "messages.create")]
    [InlineData("GET", "2010-04-01/Accounts/AC1/Messages.json", "messages.list")]
    [InlineData("GET", "2010-04-01/Accounts/AC1/Messages/SM1.json", "messages.fetch")]
    [InlineData("POST", "2010-04-01/Accounts/AC1/Messages/SM1.json", "messages.update")]
    [InlineData("DELETE", "2010-04-01/Accounts/AC1/Messages/SM1.json", "messages.delete")]
    [InlineData("GET", "2010-04-01/Accounts/AC1/Messages/SM1/Media.json", "messages.media.list")]
    [InlineData("GET", "2010-04-01/Accounts/AC1/Messages/SM1/Media/ME1.json", "messages.media.fetch")]
    [InlineData("POST", "2010-04-01/Accounts/AC1/Calls.json", "calls.create")]
    [InlineData("GET", "2010-04-01/Accounts/AC1.json", "accounts.fetch")]
    [InlineData("GET", "2010-04-01/Accounts.json", "accounts.list")]
    public void Operations_AreNamedAfterTheResourceUnderTheAccount_AsTwiliosSdksNameThem(string method, string path, string operation) =>
        Assert.Equal(operation, _twilio.Operation(method, path.Split('/')));

    [Theory]
    [InlineData("2010-04-01/Accounts/AC1/Messages.json", "2010-04-01/Accounts/AC1/Messages")]
    [InlineData("2010-04-01/Accounts/AC1/Messages.xml", "2010-04-01/Accounts/AC1/Messages")]
    [InlineData("2010-04-01/Accounts/AC1/Messages", "2010-04-01/Accounts/AC1/Messages")]
    [InlineData("2010-04-01/Accounts/AC1.json/Messages.json", "2010-04-01/Accounts/AC1.json/Messages")] // only the last segment's suffix
    [InlineData("2010-04-01/Accounts/AC1/Messages.jsonp", "2010-04-01/Accounts/AC1/Messages.jsonp")]
    public void TheFormatSuffix_IsIgnoredForMatching_OnTheLastSegmentOnly(string path, string matched) =>
        Assert.Equal(matched.Split('/'), _twilio.MatchSegments(path.Split('/')));

    [Theory]
    [InlineData("2010-04-01/Accounts/ACagent/Messages.json", "2010-04-01/Accounts/ACreal/Messages.json")]
    [InlineData("2010-04-01/Accounts/ACagent.json", "2010-04-01/Accounts/ACreal.json")] // the suffix stays on the SID
    [InlineData("2010-04-01/Accounts/ACagent.xml", "2010-04-01/Accounts/ACreal.xml")]
    [InlineData("2010-04-01/Accounts/anything/Calls/CA1.json", "2010-04-01/Accounts/ACreal/Calls/CA1.json")]
    [InlineData("2010-04-01/Accounts.json", "2010-04-01/Accounts.json")] // no SID segment to rewrite
    [InlineData("v1/Services/MG1", "v1/Services/MG1")]
    public void Upstream_TheAccountSidSegment_IsRewrittenToTheRealSid(string path, string upstream)
    {
        string[] segments = path.Split('/');
        string[] original = [.. segments];

        UpstreamAuthorization authorization = _twilio.Authorize(Secrets(), segments);

        Assert.Equal(upstream.Split('/'), authorization.Segments);
        Assert.Equal(original, segments); // the caller's segments (the audited path) are left as the agent sent them
    }

    [Fact]
    public void Upstream_OnlyTheFirstAccountsSegmentIsRewritten()
    {
        UpstreamAuthorization authorization = _twilio.Authorize(Secrets(), "2010-04-01/Accounts/ACagent/Accounts/ACother".Split('/'));

        Assert.Equal("2010-04-01/Accounts/ACreal/Accounts/ACother".Split('/'), authorization.Segments);
    }

    [Fact]
    public void Upstream_IsBasicAuthWithTheRealSidAndAuthToken() =>
        Assert.Equal("Basic " + Convert.ToBase64String("ACreal:token-1"u8), _twilio.Authorize(Secrets(), Messages.Split('/')).AuthorizationHeader);

    [Theory]
    [InlineData("ACany:kb_live_1", "kb_live_1")] // the user is any Account SID, the password the vault key
    [InlineData(":kb_live_1", "kb_live_1")]
    [InlineData("ACany:kb:with:colons", "kb:with:colons")] // only the first colon separates
    [InlineData("no-colon", null)]
    public void TheVaultKey_IsTheBasicPassword(string userAndPassword, string? key) =>
        Assert.Equal(key, _twilio.ReadVaultKey("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(userAndPassword))));

    [Theory]
    [InlineData("Basic !!!not-base64", null)]
    [InlineData("Bearer kb_live_1", "kb_live_1")]
    [InlineData(null, null)]
    public void AnUnreadableBasicHeader_HasNoKey_ABearerIsAccepted(string? authorization, string? key) =>
        Assert.Equal(key, _twilio.ReadVaultKey(authorization));

    [Theory]
    [InlineData("\"-0.00830\"", 8_300L)] // docs/vendors.md: a negative decimal string; the cost is its magnitude
    [InlineData("\"-0.0075\"", 7_500L)]
    [InlineData("\"-0.00100\"", 1_000L)] // a failed message costs $0.001
    [InlineData("\"-1.5\"", 1_500_000L)]
    [InlineData("\"0.00\"", 0L)]
    [InlineData("\"-0.0083125\"", 8_313L)] // below a micro-dollar: rounds half away from zero
    [InlineData("null", null)] // not priced yet (the usual answer to a create)
    [InlineData("-0.0083", null)] // a JSON number is not how Twilio sends prices
    [InlineData("\"\"", null)]
    [InlineData("\"USD 0.0083\"", null)]
    [InlineData("\"-8.3e-3\"", null)]
    public void APriceString_IsReadExactly(string price, long? micros)
    {
        using JsonDocument message = JsonDocument.Parse($$"""{"sid":"SM1","price":{{price}},"price_unit":"USD"}""");

        Assert.Equal(micros, TwilioVendor.ParsePrice(message.RootElement));
        Assert.Equal(micros, _twilio.SettledCost(message.RootElement));
    }

    [Fact]
    public void AMessageWithoutAPriceProperty_IsNotPriced()
    {
        using JsonDocument message = JsonDocument.Parse("""{"sid":"SM1"}""");

        Assert.Null(TwilioVendor.ParsePrice(message.RootElement));
    }

    [Theory]
    [InlineData("1", 10_000)]
    [InlineData("3", 30_000)]
    public void ACreatedMessage_IsEstimatedFromTheSegmentsTwilioCounted(string segments, long micros)
    {
        // The bound said 2 segments; Twilio's own count in the answer is what it will charge for.
        CallCost cost = Settle("Body=hi", Created.Replace("\"num_segments\":\"1\"", $"\"num_segments\":\"{segments}\"", StringComparison.Ordinal), new CostEstimate(20_000, "usd"));

        Assert.Equal(new CallCost(micros, CostSource.Estimated, null, "usd", null, "SM304417148af644198a0efaceebc965a5"), cost);
    }

    [Fact]
    public void AMessageSentThroughAMessagingService_KeepsItsBound_UntilTwilioCountsIt()
    {
        // docs/vendors.md: with a Messaging Service the create answers status accepted and num_segments "0".
        string json = Created.Replace("\"num_segments\":\"1\"", "\"num_segments\":\"0\"", StringComparison.Ordinal).Replace("queued", "accepted", StringComparison.Ordinal);

        Assert.Equal((20_000L, CostSource.Estimated), (Settle("Body=hi", json, new CostEstimate(20_000, "usd")).CostMicros, Settle("Body=hi", json, new CostEstimate(20_000, "usd")).Source));
    }

    [Fact]
    public void AMessageAlreadyPricedInItsAnswer_CostsThatPrice()
    {
        string json = Created.Replace("\"price\":null", "\"price\":\"-0.01660\"", StringComparison.Ordinal);

        CallCost cost = Settle("Body=hi", json, new CostEstimate(10_000, "usd"));

        Assert.Equal((16_600L, CostSource.Parsed), (cost.CostMicros, cost.Source));
    }

    [Fact]
    public void AMediaMessage_KeepsItsBound_ItsPriceIsNotInItsSegments()
    {
        string json = Created.Replace("\"num_media\":\"0\"", "\"num_media\":\"1\"", StringComparison.Ordinal);

        Assert.Equal(30_000, Settle("Body=hi&MediaUrl=https%3A%2F%2Fx", json, new CostEstimate(30_000, "usd")).CostMicros);
    }

    [Fact]
    public void Estimates_UseTheConfiguredPrices()
    {
        Assert.Equal(10_000, _twilio.Estimate(Calls.Form(_twilio, "POST", Messages, null, "To=%2B1&Body=hi")).CostMicros);
        Assert.Equal(20_000 + 10_000, _twilio.Estimate(Calls.Form(_twilio, "POST", Messages, null, "To=%2B1&Body=hi&MediaUrl0=https%3A%2F%2Fx")).CostMicros);

        // 161 septets: two segments. No body: bounded at one, never free.
        Assert.Equal(20_000, _twilio.Estimate(Calls.Form(_twilio, "POST", Messages, null, "To=%2B1&Body=" + new string('a', 161))).CostMicros);
        Assert.Equal(10_000, _twilio.Estimate(Calls.Form(_twilio, "POST", Messages, null, "To=%2B1&MessagingServiceSid=MG1")).CostMicros);
    }

    [Fact]
    public void TheFinalPrice_IsReadLaterFromTheMessage()
    {
        // docs/vendors.md: the final price appears later on GET .../Messages/{Sid}.json, under the real account.
        Assert.Equal(["2010-04-01", "Accounts", "ACreal", "Messages", "SM1.json"], _twilio.Authorize(Secrets(), _twilio.SettlementPath("messages.create", "SM1")!).Segments);
        Assert.Null(_twilio.SettlementPath("messages.create", null));
        Assert.Null(_twilio.SettlementPath("calls.create", "CA1"));
    }

    [Theory]
    [InlineData("GET", "2010-04-01/Accounts/AC1/Messages/SM1.json")]
    [InlineData("POST", "2010-04-01/Accounts/AC1/Messages/SM1.json")] // redacting or cancelling sends nothing
    [InlineData("DELETE", "2010-04-01/Accounts/AC1/Messages/SM1.json")]
    public void ReadsAndMessageUpdates_CostNothing(string method, string path)
    {
        ProxyCall call = Calls.Form(_twilio, method, path, null, null);

        Assert.False(_twilio.CostNeedsResponseBody(call));
        Assert.Equal(CallCost.Nothing, _twilio.Settle(call, CostEstimate.Free, Encoding.UTF8.GetBytes(Created.Replace("null,\"price_unit", "\"-0.5\",\"price_unit", StringComparison.Ordinal))));
    }

    [Theory]
    [InlineData(401, 20003)] // docs/vendors.md: 401 is code 20003, 429 is 20429
    [InlineData(429, 20429)]
    public void Denials_UseTwiliosErrorShape(int status, int code)
    {
        using JsonDocument body = JsonDocument.Parse(_twilio.Error(status, "cap_exceeded", "why").Body);
        JsonElement e = body.RootElement;

        Assert.Equal((code, "why", status), (e.GetProperty("code").GetInt32(), e.GetProperty("message").GetString(), e.GetProperty("status").GetInt32()));
        Assert.True(e.TryGetProperty("more_info", out _));
    }

    private static Dictionary<string, string> Secrets() => new() { ["twilio-account-sid"] = "ACreal", ["twilio-auth-token"] = "token-1" };

    private CallCost Settle(string body, string response, CostEstimate estimate) =>
        _twilio.Settle(Calls.Form(_twilio, "POST", Messages, null, body), estimate, Encoding.UTF8.GetBytes(response));
}
