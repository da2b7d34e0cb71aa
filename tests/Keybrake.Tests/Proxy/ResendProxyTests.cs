using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Azure.Data.Tables;
using Keybrake.Sandbox;
using Keybrake.Tests.Support;

namespace Keybrake.Tests.Proxy;

/// <summary>Resend's wire format (Bearer key, JSON bodies) through the proxy, against the fake Resend.</summary>
public sealed class ResendProxyTests : IAsyncLifetime
{
    private const string OneEmail =
        """{"from":"Acme <billing@acme.example>","to":["ada@example.com"],"subject":"Your receipt","html":"<p>Thanks!</p>"}""";

    private const string ThreeEmails =
        """
        [
          {"from":"billing@acme.example","to":"a@example.com","subject":"Receipt 1","text":"one"},
          {"from":"billing@acme.example","to":["b@example.com","c@example.com"],"subject":"Receipt 2","text":"two"},
          {"from":"billing@acme.example","to":"d@example.com","subject":"Receipt 3","text":"three"}
        ]
        """;

    private ProxyHost _proxy = null!;

    public async Task InitializeAsync() => _proxy = await ProxyHost.StartAsync();

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    private FakeResend Fake => _proxy.Vendors.Resend;

    [Fact]
    public async Task SendAndBatch_ReachResendWithTheRealKey_AndCostPerEmail()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:notify-agent:receipts:run-1", "resend", "POST /emails", "POST /emails/batch");
        using HttpClient agent = Agent(key.Str("key"));

        HttpResponseMessage single = await agent.PostAsync("emails", JsonBody(OneEmail));
        HttpResponseMessage batch = await agent.PostAsync("emails/batch", JsonBody(ThreeEmails));

        Assert.Equal(HttpStatusCode.OK, single.StatusCode);
        Assert.Equal(HttpStatusCode.OK, batch.StatusCode);
        string emailId = (await Json.ReadAsync(single)).Str("id");
        Assert.Equal(3, (await Json.ReadAsync(batch)).GetProperty("data").GetArrayLength());
        Assert.Equal(4, Fake.Emails.Count);
        Assert.Equal(["/emails", "/emails/batch"], Fake.Ledger.Select(e => e.Path));
        Assert.All(Fake.Ledger, entry =>
        {
            Assert.Equal("Bearer " + Fake.ApiKey, entry.Authorization);
            Assert.StartsWith("application/json", entry.Headers["Content-Type"], StringComparison.Ordinal);
            Assert.DoesNotContain(key.Str("key"), string.Join("\n", entry.Headers.Values), StringComparison.Ordinal);
        });
        Assert.Equal(OneEmail, Fake.Ledger[0].Body);
        Assert.Equal(ThreeEmails, Fake.Ledger[1].Body);

        Assert.Equal("0.000900", single.Headers.GetValues("X-Keybrake-Cost-Usd").Single());
        Assert.Equal("0.002700", batch.Headers.GetValues("X-Keybrake-Cost-Usd").Single());
        TableEntity sent = await _proxy.AuditRowAsync(single.Headers.GetValues("X-Keybrake-Audit-Id").Single());
        TableEntity batched = await _proxy.AuditRowAsync(batch.Headers.GetValues("X-Keybrake-Audit-Id").Single());
        Assert.Equal(("emails.send", 200, 900L), (sent.GetString("Operation"), sent.GetInt32("Status")!.Value, sent.GetInt64("CostMicros")!.Value));
        Assert.Equal(("emails.batch", 200, 2_700L), (batched.GetString("Operation"), batched.GetInt32("Status")!.Value, batched.GetInt64("CostMicros")!.Value));
        Assert.Equal("parsed", sent.GetString("CostSource"));
        Assert.Equal(emailId, sent.GetString("VendorObjectId"));
        Assert.All(new[] { sent, batched }, r => Assert.Equal(("forwarded", "resend", "usd"), (r.GetString("Outcome"), r.GetString("Vendor"), r.GetString("Currency"))));
    }

    [Fact]
    public async Task IdempotencyKey_IsForwarded_AndTheVendorsReplayIsPassedBack()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:notify-agent:receipts:run-2", "resend", "POST /emails");
        using HttpClient agent = Agent(key.Str("key"));

        HttpResponseMessage first = await agent.SendAsync(WithIdempotencyKey("receipt-4521", OneEmail));
        HttpResponseMessage replay = await agent.SendAsync(WithIdempotencyKey("receipt-4521", OneEmail));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        Assert.Equal((await Json.ReadAsync(first)).Str("id"), (await Json.ReadAsync(replay)).Str("id"));
        Assert.Single(Fake.Emails);
        Assert.Equal(2, Fake.Ledger.Count);
        Assert.All(Fake.Ledger, e => Assert.Equal("receipt-4521", e.Headers["Idempotency-Key"]));
        Assert.Equal([false, true], Fake.Ledger.Select(e => e.Replayed));
        List<TableEntity> rows = await _proxy.AuditRowsAsync();
        Assert.Equal(2, rows.Count);
        Assert.All(rows, r => Assert.Equal(("receipt-4521", "forwarded"), (r.GetString("IdempotencyKey"), r.GetString("Outcome"))));
    }

    [Fact]
    public async Task IdempotentReplay_IsCountedOnce()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:notify-agent:receipts:run-5", "resend", "POST /emails");
        using HttpClient agent = Agent(key.Str("key"));

        HttpResponseMessage first = await agent.SendAsync(WithIdempotencyKey("receipt-9001", OneEmail));
        HttpResponseMessage replay = await agent.SendAsync(WithIdempotencyKey("receipt-9001", OneEmail));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        Assert.Single(Fake.Emails);
        Assert.Equal(900, (await _proxy.AuditRowsAsync()).Sum(r => r.GetInt64("CostMicros") ?? 0));
        Assert.Equal("0.000000", replay.Headers.GetValues("X-Keybrake-Cost-Usd").Single());
    }

    [Fact]
    public async Task EndpointNotAllowed_IsAResendShapedError_AndNothingIsSent()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:notify-agent:receipts:run-3", "resend", "POST /emails");
        using HttpClient agent = Agent(key.Str("key"));

        HttpResponseMessage response = await agent.PostAsync("emails/batch", JsonBody(ThreeEmails));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.StartsWith("application/json", response.Content.Headers.ContentType!.ToString(), StringComparison.Ordinal);
        JsonElement error = await Json.ReadAsync(response);
        Assert.Equal(["statusCode", "name", "message"], error.EnumerateObject().Select(p => p.Name));
        Assert.Equal(403, error.GetProperty("statusCode").GetInt32());
        Assert.Equal("keybrake_endpoint_not_allowed", error.Str("name"));
        Assert.Contains("emails.batch", error.Str("message"), StringComparison.Ordinal);
        Assert.Empty(Fake.Ledger);
        Assert.Empty(Fake.Emails);
        TableEntity row = Assert.Single(await _proxy.AuditRowsAsync());
        Assert.Equal(("denied", "endpoint_not_allowed", 0L), (row.GetString("Outcome"), row.GetString("Reason"), row.GetInt64("CostMicros")!.Value));
    }

    [Fact]
    public async Task InvalidVaultKey_IsAResendShaped401_AndTheRealKeyIsNeverAccepted()
    {
        using HttpClient withRealKey = Agent(Fake.ApiKey);

        HttpResponseMessage response = await withRealKey.PostAsync("emails", JsonBody(OneEmail));

        // The vendor's own key is not a vault key: an agent holding it gains nothing through the proxy.
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        JsonElement error = await Json.ReadAsync(response);
        Assert.Equal((401, "keybrake_invalid_vault_key"), (error.GetProperty("statusCode").GetInt32(), error.Str("name")));
        Assert.Empty(Fake.Ledger);
    }

    [Fact]
    public async Task VendorValidationError_IsPassedThrough_AndCostsNothing()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:notify-agent:receipts:run-4", "resend", "POST /emails");
        using HttpClient agent = Agent(key.Str("key"));

        HttpResponseMessage response = await agent.PostAsync("emails", JsonBody("""{"from":"billing@acme.example","subject":"no recipient"}"""));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal("validation_error", (await Json.ReadAsync(response)).Str("name"));
        Assert.Equal("0.000000", response.Headers.GetValues("X-Keybrake-Cost-Usd").Single());
        TableEntity row = Assert.Single(await _proxy.AuditRowsAsync());
        Assert.Equal((422, 0L, "vendor_refused"), (row.GetInt32("Status")!.Value, row.GetInt64("CostMicros")!.Value, row.GetString("Reason")));
    }

    private HttpClient Agent(string bearer)
    {
        var agent = new HttpClient { BaseAddress = _proxy.ProxyBase("resend") };
        agent.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return agent;
    }

    private static StringContent JsonBody(string json) => new(json, Encoding.UTF8, "application/json");

    private static HttpRequestMessage WithIdempotencyKey(string idempotencyKey, string json)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "emails") { Content = JsonBody(json) };
        request.Headers.Add("Idempotency-Key", idempotencyKey);
        return request;
    }
}
