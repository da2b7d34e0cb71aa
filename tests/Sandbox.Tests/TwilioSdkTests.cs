using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Twilio.Exceptions;
using Twilio.Rest.Api.V2010.Account;
using Twilio.Types;

namespace Keybrake.Sandbox.Tests;

public sealed class TwilioSdkTests : IAsyncLifetime
{
    private FakeTwilio _fake = null!;

    public async Task InitializeAsync() => _fake = await FakeTwilio.StartAsync();

    public async Task DisposeAsync() => await _fake.DisposeAsync();

    [Fact]
    public async Task Sends_an_sms_and_reads_the_settled_price_back()
    {
        var client = SdkClients.Twilio(_fake.BaseUrl, _fake.AccountSid, _fake.AuthToken);

        var message = await MessageResource.CreateAsync(
            new CreateMessageOptions(new PhoneNumber("+15145535858")) { From = new PhoneNumber("+15149002890"), Body = "test" },
            client);

        Assert.Matches("^SM[0-9a-f]{32}$", message.Sid);
        Assert.Equal("queued", message.Status.ToString());
        Assert.Equal("1", message.NumSegments);
        Assert.Null(message.Price);
        Assert.Equal("USD", message.PriceUnit);

        var created = Assert.Single(_fake.Ledger);
        Assert.Equal($"/2010-04-01/Accounts/{_fake.AccountSid}/Messages.json", created.Path);
        Assert.Equal(201, created.Status);
        Assert.Equal(message.Sid, created.ObjectId);
        Assert.Equal(1, created.Segments);
        Assert.Null(created.PriceUsd);
        Assert.Equal(["+15145535858"], created.Form["To"]);
        var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{_fake.AccountSid}:{_fake.AuthToken}"));
        Assert.Equal("Basic " + basic, created.Authorization);
        using (var doc = JsonDocument.Parse(created.ResponseBody))
        {
            Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("price").ValueKind);
            Assert.Equal(JsonValueKind.String, doc.RootElement.GetProperty("num_segments").ValueKind);
        }

        var beforeSettle = await MessageResource.FetchAsync(message.Sid, client: client);
        Assert.Null(beforeSettle.Price);

        Assert.Equal(1, _fake.SettleAll());
        var settled = await MessageResource.FetchAsync(message.Sid, client: client);
        Assert.Equal("-0.00830", settled.Price);
        Assert.Equal("delivered", settled.Status.ToString());
        Assert.Equal(0.0083m, _fake.Ledger[0].PriceUsd);
        Assert.Equal(0.0083m, _fake.Ledger[^1].PriceUsd);
        Assert.Equal(0.0083m, Assert.Single(_fake.Messages).PriceUsd);
    }

    [Fact]
    public async Task Messaging_service_multi_segment_and_failed_messages()
    {
        var client = SdkClients.Twilio(_fake.BaseUrl, _fake.AccountSid, _fake.AuthToken);
        var body = new string('a', 161); // 2 GSM-7 segments

        var viaService = await MessageResource.CreateAsync(
            new CreateMessageOptions(new PhoneNumber("+15145535858")) { MessagingServiceSid = "MG" + new string('0', 32), Body = body },
            client);
        Assert.Equal("accepted", viaService.Status.ToString());
        Assert.Equal("0", viaService.NumSegments);

        var failed = await MessageResource.CreateAsync(
            new CreateMessageOptions(new PhoneNumber("+15145535859")) { From = new PhoneNumber("+15149002890"), Body = "x" },
            client);
        Assert.True(_fake.FailMessage(failed.Sid));
        _fake.SettleAll();

        var service = await MessageResource.FetchAsync(viaService.Sid, client: client);
        Assert.Equal("2", service.NumSegments);
        Assert.Equal("-0.01660", service.Price);
        var failedNow = await MessageResource.FetchAsync(failed.Sid, client: client);
        Assert.Equal("failed", failedNow.Status.ToString());
        Assert.Equal("-0.00100", failedNow.Price);
    }

    [Fact]
    public async Task Settle_immediately_shows_the_price_on_first_fetch()
    {
        _fake.Options.SettleImmediately = true;
        _fake.Options.PricePerSegmentUsd = 0.01m;
        var client = SdkClients.Twilio(_fake.BaseUrl, _fake.AccountSid, _fake.AuthToken);
        var message = await MessageResource.CreateAsync(
            new CreateMessageOptions(new PhoneNumber("+15145535858")) { From = new PhoneNumber("+15149002890"), Body = "héllo 😀" },
            client);
        Assert.Null(message.Price); // the create response never has a price
        Assert.Equal(0.01m, _fake.Ledger[0].PriceUsd);
        var fetched = await MessageResource.FetchAsync(message.Sid, client: client);
        Assert.Equal("-0.01000", fetched.Price);
    }

    [Fact]
    public async Task Errors_use_twilio_codes()
    {
        var client = SdkClients.Twilio(_fake.BaseUrl, _fake.AccountSid, _fake.AuthToken);
        var invalidTo = await Assert.ThrowsAsync<ApiException>(() => MessageResource.CreateAsync(
            new CreateMessageOptions(new PhoneNumber("5145535858")) { From = new PhoneNumber("+15149002890"), Body = "x" }, client));
        Assert.Equal(21211, invalidTo.Code);
        Assert.Equal(400, invalidTo.Status);

        var wrongToken = SdkClients.Twilio(_fake.BaseUrl, _fake.AccountSid, "nope");
        var unauthorized = await Assert.ThrowsAsync<ApiException>(() => MessageResource.CreateAsync(
            new CreateMessageOptions(new PhoneNumber("+15145535858")) { From = new PhoneNumber("+15149002890"), Body = "x" }, wrongToken));
        Assert.Equal(20003, unauthorized.Code);
        Assert.Equal(401, unauthorized.Status);
        Assert.Equal(401, _fake.Ledger[^1].Status);

        using var http = new HttpClient();
        using var missingTo = await http.SendAsync(TwilioPost($"2010-04-01/Accounts/{_fake.AccountSid}/Messages.json", "From=%2B15149002890&Body=x"));
        Assert.Equal(HttpStatusCode.BadRequest, missingTo.StatusCode);
        Assert.Equal(
            """{"code":21604,"message":"A 'To' phone number is required.","more_info":"https://www.twilio.com/docs/errors/21604","status":400}""",
            await missingTo.Content.ReadAsStringAsync());

        var otherSid = "AC" + new string('1', 32);
        using var wrongPathSid = await http.SendAsync(TwilioPost($"2010-04-01/Accounts/{otherSid}/Messages.json", "To=%2B15145535858&From=%2B15149002890&Body=x"));
        Assert.Equal(HttpStatusCode.Unauthorized, wrongPathSid.StatusCode);
        Assert.Empty(_fake.Messages);

        _fake.Options.FailWithStatus = 429;
        var limited = await Assert.ThrowsAsync<ApiException>(() => MessageResource.CreateAsync(
            new CreateMessageOptions(new PhoneNumber("+15145535858")) { From = new PhoneNumber("+15149002890"), Body = "x" }, client));
        Assert.Equal(20429, limited.Code);
    }

    [Fact]
    public void Rewrite_handler_keeps_path_and_query_under_a_prefixed_base()
    {
        using var handler = new BaseUrlRewriteHandler(new Uri("http://127.0.0.1:7071/proxy/twilio/"));
        var rewritten = handler.Rewrite(new Uri("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?PageSize=20&To=%2B1"));
        Assert.Equal("http://127.0.0.1:7071/proxy/twilio/2010-04-01/Accounts/AC1/Messages.json?PageSize=20&To=%2B1", rewritten.OriginalString);
    }

    private HttpRequestMessage TwilioPost(string path, string form)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_fake.BaseUrl, path))
        {
            Content = new StringContent(form, Encoding.UTF8, "application/x-www-form-urlencoded"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{_fake.AccountSid}:{_fake.AuthToken}")));
        return request;
    }
}
