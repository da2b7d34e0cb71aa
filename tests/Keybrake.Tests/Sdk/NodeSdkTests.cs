using System.Net;
using System.Text;
using System.Text.Json;
using Azure.Data.Tables;
using Keybrake.Sandbox;
using Keybrake.Tests.Support;

namespace Keybrake.Tests.Sdk;

/// <summary>
/// The real npm packages (stripe, twilio, resend: devDependencies of the repository) configured as
/// docs/agents.md says, against the fake vendors through Keybrake on loopback.
/// </summary>
public sealed class NodeSdkTests : IAsyncLifetime
{
    private ProxyHost _proxy = null!;

    public async Task InitializeAsync() => _proxy = await ProxyHost.StartAsync();

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    private Uri App => _proxy.Host.BaseAddress;

    [Fact]
    public async Task StripeNode_WithOnlyHostPortProtocol_ChargesAndRefunds()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-1", "stripe", "POST /v1/payment_intents", "POST /v1/refunds");

        JsonElement result = Ok(await SdkScripts.NodeAsync("stripe.mjs", "charge-refund", App, key.Str("key")));

        JsonElement intent = result.GetProperty("intent");
        Assert.Equal("succeeded", intent.Str("status"));
        Assert.Equal(2000, intent.GetProperty("amount_received").GetInt32());
        Assert.Equal(500, result.GetProperty("refund").GetProperty("amount").GetInt32());
        FakeStripe stripe = _proxy.Vendors.Stripe;
        Assert.Equal(["/v1/payment_intents", "/v1/refunds"], stripe.Ledger.Select(e => e.Path));
        Assert.All(stripe.Ledger, e => Assert.Equal("Bearer " + stripe.SecretKey, e.Authorization));
        Assert.Equal([intent.Str("id")], stripe.Ledger[1].Form["payment_intent"]);
        SdkScripts.AssertNeverReached(stripe, key.Str("key"));

        TableEntity charge = await _proxy.AuditRowAsync(intent.Str("audit_id"));
        Assert.Equal("payment_intents.create", charge.GetString("Operation"));
        Assert.Equal(20_000_000, charge.GetInt64("CostMicros"));
        Assert.Equal(stripe.Ledger[0].Headers["Idempotency-Key"], charge.GetString("IdempotencyKey")); // stripe-node keys every POST
        TableEntity refund = await _proxy.AuditRowAsync(result.GetProperty("refund").Str("audit_id"));
        Assert.Equal("refunds.create", refund.GetString("Operation"));
        Assert.Equal(-5_000_000, refund.GetInt64("CostMicros"));
    }

    [Fact]
    public async Task StripeNode_Denials_RaiseStripesOwnErrors_WithKeybrakesCode()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-2", "stripe", "POST /v1/payment_intents");

        JsonElement result = Ok(await SdkScripts.NodeAsync("stripe.mjs", "denied", App, key.Str("key")));

        JsonElement cap = result.GetProperty("cap");
        Assert.Equal("StripeRateLimitError", cap.Str("class"));
        Assert.Equal("StripeRateLimitError", cap.Str("type"));
        Assert.Equal(429, cap.GetProperty("status").GetInt32());
        Assert.Equal("keybrake_cap_exceeded", cap.Str("code"));
        Assert.StartsWith("Spending cap reached", cap.Str("message"), StringComparison.Ordinal);
        Assert.Equal("denied", (await _proxy.AuditRowAsync(cap.Str("audit_id"))).GetString("Outcome")); // err.headers carries it
        JsonElement allowlist = result.GetProperty("allowlist");
        Assert.Equal("StripePermissionError", allowlist.Str("class"));
        Assert.Equal(403, allowlist.GetProperty("status").GetInt32());
        Assert.Equal("keybrake_endpoint_not_allowed", allowlist.Str("code"));
        Assert.Contains("customers.create", allowlist.Str("message"), StringComparison.Ordinal);
        Assert.Empty(_proxy.Vendors.Stripe.Ledger);
        Assert.Equal(["cap_exceeded", "endpoint_not_allowed"], (await _proxy.AuditRowsAsync()).Select(r => r.GetString("Reason")).Order());
    }

    [Fact]
    public async Task TwilioNode_ThroughItsHttpClientHook_SendsAnSms()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:notify-agent:sms:run-1", "twilio", "POST /2010-04-01/Accounts/*/Messages");

        JsonElement result = Ok(await SdkScripts.NodeAsync("twilio.mjs", "sms", App, key.Str("key")));

        FakeTwilio twilio = _proxy.Vendors.Twilio;
        Assert.Matches("^SM[0-9a-f]{32}$", result.Str("sid"));
        Assert.Equal("queued", result.Str("status"));
        LedgerEntry sent = Assert.Single(twilio.Ledger);
        Assert.Equal($"/2010-04-01/Accounts/{twilio.AccountSid}/Messages.json", sent.Path);
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{twilio.AccountSid}:{twilio.AuthToken}")), sent.Authorization);
        Assert.Equal(["Your code is 123456"], sent.Form["Body"]);
        Assert.Equal(result.Str("sid"), Assert.Single(twilio.Messages).Sid);
        SdkScripts.AssertNeverReached(twilio, key.Str("key"));
        TableEntity row = Assert.Single(await _proxy.AuditRowsAsync());
        Assert.Equal("messages.create", row.GetString("Operation"));
        Assert.Equal(8_300, row.GetInt64("CostMicros"));
    }

    [Fact]
    public async Task TwilioNode_Denial_RaisesRestException_WithKeybrakesCode()
    {
        JsonElement key = await _proxy.Host.IssueKeyAsync(
            "acme:notify-agent:sms:run-2", "twilio", cap: 0.05m, endpoints: ["POST /2010-04-01/Accounts/*/Messages"]);

        JsonElement cap = Ok(await SdkScripts.NodeAsync("twilio.mjs", "denied", App, key.Str("key"))).GetProperty("cap");

        Assert.Equal("RestException", cap.Str("class"));
        Assert.Equal(429, cap.GetProperty("status").GetInt32());
        Assert.Equal(20429, cap.GetProperty("code").GetInt32());
        Assert.Equal("keybrake:cap_exceeded", cap.Str("more_info"));
        Assert.StartsWith("Spending cap reached", cap.Str("message"), StringComparison.Ordinal);
        Assert.Empty(_proxy.Vendors.Twilio.Ledger);
    }

    [Fact]
    public async Task ResendNode_WithItsBaseUrlOption_SendsOneEmailAndABatch()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:notify-agent:receipts:run-1", "resend", "POST /emails", "POST /emails/batch");

        JsonElement single = Ok(await SdkScripts.NodeAsync("resend.mjs", "single", App, key.Str("key")));
        JsonElement batch = Ok(await SdkScripts.NodeAsync("resend.mjs", "batch", App, key.Str("key")));

        Assert.Equal(JsonValueKind.Null, single.GetProperty("error").ValueKind);
        Assert.Matches("^[0-9a-f-]{36}$", single.GetProperty("data").Str("id"));
        Assert.Equal(JsonValueKind.Null, batch.GetProperty("error").ValueKind);
        Assert.Equal(3, batch.GetProperty("data").GetProperty("data").GetArrayLength());
        FakeResend resend = _proxy.Vendors.Resend;
        Assert.Equal(["/emails", "/emails/batch"], resend.Ledger.Select(e => e.Path));
        Assert.All(resend.Ledger, e => Assert.Equal("Bearer " + resend.ApiKey, e.Authorization));
        Assert.Equal(4, resend.Emails.Count);
        SdkScripts.AssertNeverReached(resend, key.Str("key"));
        Assert.Equal([900L, 2_700L], (await _proxy.AuditRowsAsync()).Select(r => r.GetInt64("CostMicros")!.Value).Order());
    }

    [Fact]
    public async Task ResendNode_Denial_ComesBackAsItsErrorResult_WithKeybrakesName()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:notify-agent:receipts:run-2", "resend", "POST /emails");

        JsonElement error = Ok(await SdkScripts.NodeAsync("resend.mjs", "denied", App, key.Str("key"))).GetProperty("error");

        Assert.Equal(403, error.GetProperty("statusCode").GetInt32());
        Assert.Equal("keybrake_endpoint_not_allowed", error.Str("name"));
        Assert.Contains("GET /domains", error.Str("message"), StringComparison.Ordinal);
        Assert.Empty(_proxy.Vendors.Resend.Ledger);
    }

    private static JsonElement Ok(JsonElement outcome)
    {
        Assert.True(outcome.GetProperty("ok").GetBoolean(), "the SDK call failed: " + outcome.GetRawText());
        return outcome.GetProperty("result");
    }
}
