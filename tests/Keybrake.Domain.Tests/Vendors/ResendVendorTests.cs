using System.Text;
using System.Text.Json;
using Keybrake.Domain.Proxy;
using Keybrake.Domain.Vendors;

namespace Keybrake.Domain.Tests.Vendors;

/// <summary>
/// Resend as plain domain logic: operation names, and the cost (docs/design.md §4: the configured price per email ×
/// emails sent, a batch counting each) from the answers docs/vendors.md documents. $0.0010 per email (<see cref="TestPricing"/>).
/// </summary>
public sealed class ResendVendorTests
{
    private readonly ResendVendor _resend = new(TestPricing.Options());

    [Theory]
    [InlineData("POST", "emails", "emails.send")]
    [InlineData("POST", "emails/batch", "emails.batch")]
    [InlineData("GET", "emails", "emails.list")]
    [InlineData("GET", "emails/49a3999c-0ce1-4ea6-ab68-afcd6dc2e794", "emails.get")]
    [InlineData("POST", "domains", "domains.create")]
    [InlineData("GET", "domains/d_1", "domains.get")]
    [InlineData("DELETE", "domains/d_1", "domains.delete")]
    [InlineData("POST", "api-keys", "api-keys.create")]
    public void Operations_AreNamedAfterTheResource(string method, string path, string operation) =>
        Assert.Equal(operation, _resend.Operation(method, path.Split('/')));

    [Fact]
    public void ASend_CostsOneEmail()
    {
        CallCost cost = Settle("emails", """{"from":"a@x","to":["b@x","c@x"],"subject":"s"}""", """{"id":"49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"}""");

        // One email however many recipients: Resend prices per email sent.
        Assert.Equal(new CallCost(1_000, CostSource.Parsed, null, "usd", null, "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"), cost);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(100)] // the documented batch maximum
    public void ABatch_CostsEachEmailItSent(int emails)
    {
        string request = "[" + string.Join(',', Enumerable.Repeat("""{"from":"a@x","to":"b@x","subject":"s"}""", emails)) + "]";
        string response = """{"data":[""" + string.Join(',', Enumerable.Range(0, emails).Select(i => $$"""{"id":"e_{{i}}"}""")) + "]}";
        ProxyCall call = Call("emails/batch", request);

        Assert.Equal(emails * 1_000L, _resend.Estimate(call).CostMicros);
        Assert.Equal((emails * 1_000L, CostSource.Parsed), (Settle("emails/batch", request, response).CostMicros, Settle("emails/batch", request, response).Source));
        using JsonDocument answer = JsonDocument.Parse(response);
        Assert.Equal(Enumerable.Range(0, emails).Select(i => $"e_{i}"), _resend.CreatedObjects(call, answer.RootElement));
    }

    [Fact]
    public void ABatchAnsweredWithFewerIds_CostsOnlyThoseSent()
    {
        string request = """[{"from":"a@x"},{"from":"a@x"},{"from":"a@x"}]""";

        Assert.Equal(2_000, Settle("emails/batch", request, """{"data":[{"id":"e_1"},{"id":"e_2"}]}""").CostMicros);
    }

    [Theory]
    [InlineData("GET", "emails")]
    [InlineData("POST", "domains")]
    [InlineData("DELETE", "api-keys/k_1")]
    public void CallsThatSendNothing_CostNothing(string method, string path)
    {
        ProxyCall call = new("resend", method, path.Split('/'), _resend.Operation(method, path.Split('/')), "application/json", "{}"u8.ToArray(), null);

        Assert.Equal(CostEstimate.Free, _resend.Estimate(call));
        Assert.False(_resend.CostNeedsResponseBody(call));
        Assert.Equal(CallCost.Nothing, _resend.Settle(call, CostEstimate.Free, """{"data":[{"id":"e_1"}]}"""u8));
    }

    [Theory]
    [InlineData("Bearer re_vault_1", "re_vault_1")]
    [InlineData("Basic cmVfMTo=", null)] // Resend's SDKs send only a bearer token
    [InlineData(null, null)]
    public void TheVaultKey_IsTheBearerToken(string? authorization, string? key) => Assert.Equal(key, _resend.ReadVaultKey(authorization));

    [Fact]
    public void Upstream_TheApiKeyIsABearer() =>
        Assert.Equal("Bearer re_real", _resend.Authorize(new Dictionary<string, string> { ["resend-api-key"] = "re_real" }, ["emails"]).AuthorizationHeader);

    [Fact]
    public void Denials_UseResendsErrorShape()
    {
        using JsonDocument body = JsonDocument.Parse(_resend.Error(429, "cap_exceeded", "why").Body);
        JsonElement e = body.RootElement;

        Assert.Equal((429, "keybrake_cap_exceeded", "why"), (e.GetProperty("statusCode").GetInt32(), e.GetProperty("name").GetString(), e.GetProperty("message").GetString()));
    }

    private ProxyCall Call(string path, string json)
    {
        string[] segments = path.Split('/');
        return new ProxyCall("resend", "POST", segments, _resend.Operation("POST", segments), "application/json", Encoding.UTF8.GetBytes(json), null);
    }

    private CallCost Settle(string path, string request, string response)
    {
        ProxyCall call = Call(path, request);
        return _resend.Settle(call, _resend.Estimate(call), Encoding.UTF8.GetBytes(response));
    }
}
