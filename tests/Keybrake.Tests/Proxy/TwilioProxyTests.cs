using System.Text;
using System.Text.Json;
using Azure.Data.Tables;
using Keybrake.Sandbox;
using Keybrake.Tests.Support;
using Twilio.Clients;
using Twilio.Exceptions;
using Twilio.Rest.Api.V2010.Account;
using Twilio.Types;

namespace Keybrake.Tests.Proxy;

/// <summary>
/// The official Twilio SDK, its host rewritten to the proxy, with a vault key as its auth token and a
/// made-up Account SID, against the fake Twilio.
/// </summary>
public sealed class TwilioProxyTests(SharedProxyHost shared) : IClassFixture<SharedProxyHost>, IAsyncLifetime
{
    private const string SeedPattern = "POST /2010-04-01/Accounts/*/Messages";
    private const string AgentsAccountSid = "AC00000000000000000000000000agent0";
    private const long MicrosPerSegment = 8_300;

    private ProxyHost _proxy = null!;

    public async Task InitializeAsync() => _proxy = await shared.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    private FakeTwilio Fake => _proxy.Vendors.Twilio;

    public static TheoryData<string, string, int> Bodies() => new()
    {
        // 161 GSM-7 characters: one over a single SMS, so two parts of 153.
        { "GSM-7, 161 characters", "Your order #4521 has shipped! Track it at example.com/t/4521. Reply STOP to opt out. " + new string('.', 161 - 85), 2 },

        // An emoji switches the whole message to UCS-2: 69 characters + a surrogate pair = 71 units > 70, so two parts of 67.
        { "UCS-2 with an emoji", new string('x', 69) + "\U0001F600", 2 },
        { "short GSM-7", "Your code is 481516", 1 },
    };

    [Theory]
    [MemberData(nameof(Bodies))]
    public async Task SendSms_ReachesTwilioAsTheRealAccount_AndAuditsTheSegmentEstimate(string scenario, string body, int segments)
    {
        Assert.True(scenario == "short GSM-7" || body.Length > 70, scenario);
        JsonElement key = await _proxy.IssueKeyAsync("acme:notify-agent:sms:run-1", "twilio", SeedPattern);
        TwilioRestClient client = Client(key.Str("key"));

        MessageResource message = await MessageResource.CreateAsync(
            new CreateMessageOptions(new PhoneNumber("+15145535858")) { From = new PhoneNumber("+15149002890"), Body = body }, client);

        Assert.StartsWith("SM", message.Sid, StringComparison.Ordinal);
        Assert.Equal(MessageResource.StatusEnum.Queued, message.Status);
        LedgerEntry entry = Assert.Single(Fake.Ledger);
        Assert.Equal($"/2010-04-01/Accounts/{Fake.AccountSid}/Messages.json", entry.Path);
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(Fake.AccountSid + ":" + Fake.AuthToken)), entry.Authorization);
        Assert.Equal(201, entry.Status);
        Assert.Equal(segments, entry.Segments);
        Assert.Equal(body, Assert.Single(entry.Form["Body"]));
        string seen = entry.Path + "\n" + string.Join("\n", entry.Headers.Select(h => h.Key + ": " + h.Value)) + "\n" + entry.Body;
        Assert.DoesNotContain(key.Str("key"), seen, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes(AgentsAccountSid + ":" + key.Str("key"))), seen, StringComparison.Ordinal);
        Assert.DoesNotContain(AgentsAccountSid, seen, StringComparison.Ordinal);

        TableEntity row = Assert.Single(await _proxy.AuditRowsAsync());
        Assert.Equal("messages.create", row.GetString("Operation"));
        Assert.Equal(("forwarded", 201), (row.GetString("Outcome"), row.GetInt32("Status")!.Value));
        Assert.Equal("estimated", row.GetString("CostSource"));
        Assert.Equal(segments * MicrosPerSegment, row.GetInt64("CostMicros"));
        Assert.Equal(message.Sid, row.GetString("VendorObjectId"));
        Assert.StartsWith("RQ", row.GetString("VendorRequestId"), StringComparison.Ordinal);
        Assert.Equal("twilio", row.GetString("Vendor"));
    }

    [Theory]
    [MemberData(nameof(Bodies))]
    public async Task SendSmsViaMessagingService_IsCostedByKeybrakesOwnSegmentCount(string scenario, string body, int segments)
    {
        // Through a Messaging Service Twilio answers num_segments "0", so the cost is Keybrake's own estimate from the body.
        JsonElement key = await _proxy.IssueKeyAsync("acme:notify-agent:sms:run-5", "twilio", SeedPattern);

        MessageResource message = await MessageResource.CreateAsync(
            new CreateMessageOptions(new PhoneNumber("+15145535858")) { MessagingServiceSid = "MG" + new string('a', 32), Body = body },
            Client(key.Str("key")));

        Assert.Equal(MessageResource.StatusEnum.Accepted, message.Status);
        Assert.Equal(segments, Assert.Single(Fake.Ledger).Segments);
        TableEntity row = Assert.Single(await _proxy.AuditRowsAsync());
        Assert.True(segments * MicrosPerSegment == row.GetInt64("CostMicros"), $"{scenario}: {row.GetInt64("CostMicros")}");
        Assert.Equal(("estimated", message.Sid), (row.GetString("CostSource"), row.GetString("VendorObjectId")));
    }

    [Fact]
    public async Task FormatSuffixIsIgnoredForMatching_ButKeptUpstream()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:notify-agent:sms:run-2", "twilio", SeedPattern, "GET /2010-04-01/Accounts/*/Messages/*");
        TwilioRestClient client = Client(key.Str("key"));

        MessageResource sent = await MessageResource.CreateAsync(
            new CreateMessageOptions(new PhoneNumber("+15145535858")) { From = new PhoneNumber("+15149002890"), Body = "hi" }, client);
        MessageResource fetched = await MessageResource.FetchAsync(sent.Sid, client: client);

        Assert.Equal(sent.Sid, fetched.Sid);
        Assert.Equal(
            [$"/2010-04-01/Accounts/{Fake.AccountSid}/Messages.json", $"/2010-04-01/Accounts/{Fake.AccountSid}/Messages/{sent.Sid}.json"],
            Fake.Ledger.Select(e => e.Path));
        TableEntity fetch = Assert.Single(await _proxy.AuditRowsAsync(), r => r.GetString("Operation") == "messages.fetch");
        Assert.Equal(0, fetch.GetInt64("CostMicros"));
    }

    [Fact]
    public async Task EndpointNotAllowed_IsAReadableTwilioApiException_AndNothingIsSent()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:notify-agent:sms:run-3", "twilio", "GET /2010-04-01/Accounts/*/Messages");

        ApiException error = await Assert.ThrowsAsync<ApiException>(() => MessageResource.CreateAsync(
            new CreateMessageOptions(new PhoneNumber("+15145535858")) { From = new PhoneNumber("+15149002890"), Body = "hi" }, Client(key.Str("key"))));

        Assert.Equal(403, error.Status);
        Assert.Equal(20403, error.Code);
        Assert.Contains("messages.create", error.Message, StringComparison.Ordinal);
        Assert.Equal("keybrake:endpoint_not_allowed", error.MoreInfo);
        Assert.Empty(Fake.Ledger);
        TableEntity row = Assert.Single(await _proxy.AuditRowsAsync());
        Assert.Equal(("denied", "endpoint_not_allowed", "messages.create"), (row.GetString("Outcome"), row.GetString("Reason"), row.GetString("Operation")));
    }

    [Fact]
    public async Task AStripeKeyOrNoKey_IsRefusedWithATwilioApiException_AndNothingIsSent()
    {
        JsonElement stripeKey = await _proxy.IssueKeyAsync("acme:billing-agent:x:run-4", "stripe", "/**");
        var options = new CreateMessageOptions(new PhoneNumber("+15145535858")) { From = new PhoneNumber("+15149002890"), Body = "hi" };

        ApiException wrongVendor = await Assert.ThrowsAsync<ApiException>(() => MessageResource.CreateAsync(options, Client(stripeKey.Str("key"))));
        ApiException notAKey = await Assert.ThrowsAsync<ApiException>(() => MessageResource.CreateAsync(options, Client(Fake.AuthToken)));

        Assert.Equal((403, 20403), (wrongVendor.Status, wrongVendor.Code));
        Assert.Contains("stripe", wrongVendor.Message, StringComparison.Ordinal);
        Assert.Equal((401, 20003), (notAKey.Status, notAKey.Code));
        Assert.Empty(Fake.Ledger);
    }

    private TwilioRestClient Client(string vaultKey) => new(
        AgentsAccountSid,
        vaultKey,
        httpClient: new Twilio.Http.SystemNetHttpClient(BaseUrlRewriteHandler.CreateClient(_proxy.ProxyBase("twilio"))));
}
