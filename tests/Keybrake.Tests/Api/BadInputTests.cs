using System.Net;
using System.Text;
using System.Text.Json;
using Keybrake.Tests.Support;

namespace Keybrake.Tests.Api;

/// <summary>Every malformed issue request gets a clear 400 (413 for size) naming the field, and writes nothing.</summary>
public sealed class BadInputTests(SharedHost shared) : IClassFixture<SharedHost>, IAsyncLifetime
{
    private const string Valid = """{"label":"acme:billing-agent:refunds:run-1","vendor":"stripe","daily_usd_cap":5,"allowed_endpoints":["POST /v1/refunds"],"expires_in":"30m"}""";
    private KeybrakeHost _host = null!;

    public async Task InitializeAsync() => _host = await shared.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    public static TheoryData<string, string, string> Cases() => new()
    {
        { "malformed JSON", """{"label": "acme:x", """, "invalid_json" },
        { "not an object", """["acme:x"]""", "invalid_json" },
        { "empty body", "", "invalid_json" },
        { "unknown field", With("\"colour\":\"red\""), "colour" },
        { "label wrong type", Replace("\"label\":\"acme:billing-agent:refunds:run-1\"", "\"label\":42"), "label" },
        { "cap wrong type", Replace("\"daily_usd_cap\":5", "\"daily_usd_cap\":\"5\""), "daily_usd_cap" },
        { "endpoints wrong type", Replace("[\"POST /v1/refunds\"]", "\"POST /v1/refunds\""), "allowed_endpoints" },
        { "endpoint not a string", Replace("[\"POST /v1/refunds\"]", "[7]"), "allowed_endpoints" },
        { "missing label", Replace("\"label\":\"acme:billing-agent:refunds:run-1\",", ""), "label" },
        { "missing vendor", Replace("\"vendor\":\"stripe\",", ""), "vendor" },
        { "cap as a boolean", Replace("\"daily_usd_cap\":5", "\"daily_usd_cap\":true"), "daily_usd_cap" },
        { "missing endpoints", Replace("\"allowed_endpoints\":[\"POST /v1/refunds\"],", ""), "allowed_endpoints" },
        { "missing ttl", Replace(",\"expires_in\":\"30m\"", ""), "expires_in" },
        { "label of 121 chars", Replace("acme:billing-agent:refunds:run-1", "acme:" + new string('x', 116)), "label" },
        { "label with control character", Replace("run-1", "run\\u00071"), "label" },
        { "label with empty tenant", Replace("acme:billing", ":billing"), "label" },
        { "label with slash", Replace("run-1", "run/1"), "label" },
        { "uppercase tenant", Replace("acme:", "Acme:"), "label" },
        { "negative cap", Replace("\"daily_usd_cap\":5", "\"daily_usd_cap\":-1"), "daily_usd_cap" },
        { "zero cap", Replace("\"daily_usd_cap\":5", "\"daily_usd_cap\":0"), "daily_usd_cap" },
        { "huge cap", Replace("\"daily_usd_cap\":5", "\"daily_usd_cap\":1e30"), "daily_usd_cap" },
        { "cap above the configured maximum", Replace("\"daily_usd_cap\":5", "\"daily_usd_cap\":10000.01"), "daily_usd_cap" },
        { "cap with 7 decimals", Replace("\"daily_usd_cap\":5", "\"daily_usd_cap\":0.0000001"), "daily_usd_cap" },
        { "ttl 0m", Replace("30m", "0m"), "expires_in" },
        { "ttl 31d", Replace("30m", "31d"), "expires_in" },
        { "ttl abc", Replace("30m", "abc"), "expires_in" },
        { "ttl unknown unit", Replace("30m", "30w"), "expires_in" },
        { "unknown vendor", Replace("\"stripe\"", "\"paypal\""), "vendor" },
        { "bad endpoint pattern", Replace("POST /v1/refunds", "FETCH /v1/refunds"), "allowed_endpoints" },
        { "endpoint without slash", Replace("POST /v1/refunds", "v1/refunds"), "allowed_endpoints" },
        { "endpoint with dot-dot", Replace("POST /v1/refunds", "/v1/../admin"), "allowed_endpoints" },
        { "metadata not strings", With("\"metadata\":{\"a\":1}"), "metadata.a" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task IssueKey_WithBadInput_Is400NamingTheFieldAndWritesNothing(string scenario, string body, string expected)
    {
        using HttpClient client = _host.Client();
        HttpResponseMessage response = await client.PostAsync("/v1/keys", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{scenario}: expected 400, got {(int)response.StatusCode}");
        JsonElement error = (await Json.ReadAsync(response)).GetProperty("error");
        Assert.True(
            error.Str("code") == expected || error.Str("message").Contains(expected, StringComparison.Ordinal),
            $"{scenario}: error should name '{expected}', got {error}");
        await AssertNoKeysStoredAsync();
    }

    [Fact]
    public async Task IssueKey_WithBodyOver64KB_Is413AndWritesNothing()
    {
        string huge = With($"\"metadata\":{{\"pad\":\"{new string('x', 70 * 1024)}\"}}");
        using HttpClient client = _host.Client();

        HttpResponseMessage response = await client.PostAsync("/v1/keys", new StringContent(huge, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("payload_too_large", (await Json.ReadAsync(response)).GetProperty("error").Str("code"));
        await AssertNoKeysStoredAsync();
    }

    [Fact]
    public async Task IssueKey_ValidBody_IsAcceptedSoTheCasesAboveFailForTheirOwnReason()
    {
        using HttpClient client = _host.Client();
        HttpResponseMessage response = await client.PostAsync("/v1/keys", new StringContent(Valid, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Theory]
    [InlineData("/v1/keys?status=sleeping", "status")]
    [InlineData("/v1/keys?vendor=paypal", "vendor")]
    [InlineData("/v1/keys?limit=0", "limit")]
    [InlineData("/v1/keys?limit=abc", "limit")]
    [InlineData("/v1/keys?label_prefix=ACME:", "label_prefix")]
    [InlineData("/v1/keys?cursor=%%%", "cursor")]
    public async Task ListKeys_WithBadQuery_Is400NamingTheParameter(string url, string field)
    {
        using HttpClient client = _host.Client();
        HttpResponseMessage response = await client.GetAsync(url);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(field, (await Json.ReadAsync(response)).GetProperty("error").Str("message"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{}""", "label_prefix")]
    [InlineData("""{"label_prefix":""}""", "label_prefix")]
    [InlineData("""{"label_prefix":"acme:","extra":1}""", "extra")]
    public async Task RevokeByPrefix_WithBadBody_Is400(string body, string field)
    {
        await _host.IssueKeyAsync("acme:billing-agent:refunds:run-1");
        using HttpClient client = _host.Client();

        HttpResponseMessage response = await client.PostAsync("/v1/keys/revoke", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(field, (await Json.ReadAsync(response)).GetProperty("error").Str("message"), StringComparison.Ordinal);
        Assert.Single((await Json.ReadAsync(await client.GetAsync("/v1/keys?status=active"))).GetProperty("keys").EnumerateArray());
    }

    [Theory]
    [InlineData("""{"tenant":"Acme"}""", "tenant")]
    [InlineData("""{"tenant":""}""", "tenant")]
    [InlineData("""{}""", "tenant")]
    [InlineData("""{"tenant":"acme","expires_in":"366d"}""", "expires_in")]
    public async Task IssueToken_WithBadBody_Is400(string body, string field)
    {
        using HttpClient client = _host.Client();
        HttpResponseMessage response = await client.PostAsync("/v1/tokens", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(field, (await Json.ReadAsync(response)).GetProperty("error").Str("message"), StringComparison.Ordinal);
    }

    private static string With(string field) => Valid[..^1] + "," + field + "}";

    private static string Replace(string from, string to)
    {
        Assert.Contains(from, Valid, StringComparison.Ordinal);
        return Valid.Replace(from, to, StringComparison.Ordinal);
    }

    private async Task AssertNoKeysStoredAsync()
    {
        List<Azure.Data.Tables.TableEntity> entities = await TestStorage.AllEntitiesAsync(_host.TablePrefix + "keys");
        Assert.Empty(entities);
    }
}
