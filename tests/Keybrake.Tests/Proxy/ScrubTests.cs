using System.Net;
using System.Text;
using System.Text.Json;
using Keybrake.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Keybrake.Tests.Proxy;

/// <summary>
/// Issue #20 §2 / docs/design.md §9: no answer, header or error body that reaches the agent contains a vendor
/// secret's value. The "vendor" here echoes the credential it received, as careless error pages do, in its
/// body (also split across stream reads) and in headers; the agent sees asterisks, and a log line counts
/// the scrubs without the secret.
/// </summary>
public sealed class ScrubTests
{
    [Fact]
    public async Task StripeErrorEchoingTheSecretKey_ReachesTheAgentScrubbed_BodyAndHeaders()
    {
        await using EchoUpstream echo = await EchoUpstream.StartAsync(async context =>
        {
            string presented = context.Request.Headers.Authorization.ToString();
            string secret = presented["Bearer ".Length..];
            context.Response.StatusCode = 401;
            context.Response.Headers["X-Debug-Auth"] = presented;
            context.Response.Headers["WWW-Authenticate"] = $"Bearer realm=\"{secret}\"";
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(JsonSerializer.Serialize(new { error = new { type = "invalid_request_error", message = "Invalid API Key provided: " + secret } }));
        });
        await using ProxyHost proxy = await ProxyHost.StartAsync(new Dictionary<string, string?> { ["Vendors:stripe:BaseUrl"] = echo.BaseUrl.ToString().TrimEnd('/') }, ownVendorAccounts: ["acme"]);
        string secretKey = proxy.Vendors.Stripe.SecretKey;
        JsonElement key = await proxy.IssueKeyAsync("acme:reporting-agent:scrub:run-1", "stripe", "GET /v1/customers/*");

        RawExchange.Reply reply = await RawExchange.SendAsync(proxy.Host.BaseAddress, "GET /proxy/stripe/v1/customers/cus_1 HTTP/1.1",
            [("Host", proxy.Host.BaseAddress.Authority), ("Authorization", "Bearer " + key.Str("key")), ("Connection", "close")]);

        Assert.Equal(401, reply.Status);
        Assert.Equal(secretKey, echo.LastCredential);
        Assert.DoesNotContain(secretKey, reply.Raw, StringComparison.Ordinal);
        Assert.Equal("Invalid API Key provided: " + new string('*', secretKey.Length), JsonDocument.Parse(reply.Body).RootElement.GetProperty("error").Str("message"));
        Assert.Equal("Bearer " + new string('*', secretKey.Length), Assert.Single(reply.Values("X-Debug-Auth")));
        string log = proxy.Host.Logs.All;
        Assert.Contains("Scrubbed 3 occurrence(s) of a stripe credential", log, StringComparison.Ordinal);
        Assert.DoesNotContain(secretKey, log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ALargeStreamedAnswer_WithTheSecretSplitAcrossReads_IsScrubbedEverywhere_AndKeepsItsLength()
    {
        string secret = string.Empty;
        int length = 0;
        await using EchoUpstream echo = await EchoUpstream.StartAsync(async context =>
        {
            secret = context.Request.Headers.Authorization.ToString()["Bearer ".Length..];

            // ~1.5 MB (past the proxy's 1 MB parse buffer), written in odd-sized pieces so occurrences straddle reads.
            var body = new StringBuilder("{\"object\":\"list\",\"data\":[");
            for (int i = 0; body.Length < 1_500_000; i++)
            {
                body.Append("{\"id\":\"cus_").Append(i).Append("\",\"note\":\"").Append(new string('x', i % 37)).Append(secret).Append("\"},");
            }

            body.Append("{\"id\":\"last\"}]}");
            byte[] bytes = Encoding.UTF8.GetBytes(body.ToString());
            length = bytes.Length;
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = bytes.Length;
            for (int at = 0; at < bytes.Length; at += 4093)
            {
                await context.Response.Body.WriteAsync(bytes.AsMemory(at, Math.Min(4093, bytes.Length - at)));
                await context.Response.Body.FlushAsync();
            }
        });
        await using ProxyHost proxy = await ProxyHost.StartAsync(new Dictionary<string, string?> { ["Vendors:stripe:BaseUrl"] = echo.BaseUrl.ToString().TrimEnd('/') }, ownVendorAccounts: ["acme"]);
        JsonElement key = await proxy.IssueKeyAsync("acme:reporting-agent:scrub:run-2", "stripe", "GET /v1/customers");
        using var agent = new HttpClient { BaseAddress = proxy.ProxyBase("stripe") };
        agent.DefaultRequestHeaders.Authorization = new("Bearer", key.Str("key"));

        HttpResponseMessage response = await agent.GetAsync("v1/customers");
        byte[] received = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(length, received.Length);
        string text = Encoding.UTF8.GetString(received);
        Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        JsonElement list = JsonDocument.Parse(text).RootElement.GetProperty("data");
        Assert.All(list.EnumerateArray().SkipLast(1), c => Assert.EndsWith(new string('*', secret.Length), c.Str("note"), StringComparison.Ordinal));
    }

    [Fact]
    public async Task TwilioErrorEchoingTheAuthTokenOrTheBasicHeader_IsScrubbed_TheAccountSidIsNot()
    {
        await using EchoUpstream echo = await EchoUpstream.StartAsync(async context =>
        {
            string basic = context.Request.Headers.Authorization.ToString()["Basic ".Length..];
            string[] pair = Encoding.UTF8.GetString(Convert.FromBase64String(basic)).Split(':', 2);
            context.Response.StatusCode = 400;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(JsonSerializer.Serialize(new { code = 20003, message = $"Bad credentials {basic} token={pair[1]}", account_sid = pair[0] }));
        });
        await using ProxyHost proxy = await ProxyHost.StartAsync(new Dictionary<string, string?> { ["Vendors:twilio:BaseUrl"] = echo.BaseUrl.ToString().TrimEnd('/') }, ownVendorAccounts: ["acme"]);
        string sid = proxy.Vendors.Twilio.AccountSid;
        string token = proxy.Vendors.Twilio.AuthToken;
        JsonElement key = await proxy.IssueKeyAsync("acme:notify-agent:scrub:run-3", "twilio", "GET /2010-04-01/Accounts/*/Messages");
        using var agent = new HttpClient { BaseAddress = proxy.ProxyBase("twilio") };
        agent.DefaultRequestHeaders.Authorization = new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("ACanything:" + key.Str("key"))));

        HttpResponseMessage response = await agent.GetAsync("2010-04-01/Accounts/ACanything/Messages.json");
        string body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.DoesNotContain(token, body, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes(sid + ":" + token)), body, StringComparison.Ordinal);
        Assert.Contains("token=" + new string('*', token.Length), body, StringComparison.Ordinal);
        Assert.Equal(sid, JsonDocument.Parse(body).RootElement.Str("account_sid"));
    }

    /// <summary>A loopback "vendor" whose answer is computed from the request (here: echoing its credentials).</summary>
    private sealed class EchoUpstream : IAsyncDisposable
    {
        private WebApplication _app = null!;

        public Uri BaseUrl { get; private set; } = null!;

        public string? LastCredential { get; private set; }

        public static async Task<EchoUpstream> StartAsync(RequestDelegate respond)
        {
            var echo = new EchoUpstream();
            (echo._app, echo.BaseUrl) = await LoopbackApp.StartAsync(context =>
            {
                string auth = context.Request.Headers.Authorization.ToString();
                echo.LastCredential = auth.StartsWith("Bearer ", StringComparison.Ordinal) ? auth["Bearer ".Length..] : auth;
                return respond(context);
            });
            return echo;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
