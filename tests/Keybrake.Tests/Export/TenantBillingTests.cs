using System.Net;
using System.Text;
using System.Text.Json;
using Azure.Data.Tables;
using Keybrake.Tests.Support;

namespace Keybrake.Tests.Export;

/// <summary>PUT/GET /v1/tenants/{tenant}/billing: root writes, strict validation that writes nothing on a bad input.</summary>
public sealed class TenantBillingTests(SharedHost shared) : IClassFixture<SharedHost>, IAsyncLifetime
{
    private KeybrakeHost _host = null!;

    public async Task InitializeAsync() => _host = await shared.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Root_MapsATenantToItsCustomers_AndAPutReplacesTheMapping()
    {
        using HttpClient root = _host.Client();
        HttpResponseMessage put = await PutAsync(root, "acme", """{"stripe_customer_id":"cus_Abc123","lago_external_subscription_id":"sub-acme-2026","openmeter_subject":"customer:acme"}""");
        JsonElement stored = await Json.ReadAsync(put);
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(("acme", "cus_Abc123", "sub-acme-2026", "customer:acme"),
            (stored.Str("tenant"), stored.Str("stripe_customer_id"), stored.Str("lago_external_subscription_id"), stored.Str("openmeter_subject")));
        Assert.Equal(stored.ToString(), (await Json.ReadAsync(await root.GetAsync("/v1/tenants/acme/billing"))).ToString());

        await PutAsync(root, "acme", """{"lago_external_subscription_id":"sub-2"}""");
        JsonElement replaced = await Json.ReadAsync(await root.GetAsync("/v1/tenants/acme/billing"));
        Assert.Equal(JsonValueKind.Null, replaced.GetProperty("stripe_customer_id").ValueKind);
        Assert.Equal("sub-2", replaced.Str("lago_external_subscription_id"));

        JsonElement unmapped = await Json.ReadAsync(await root.GetAsync("/v1/tenants/globex/billing"));
        Assert.Equal(JsonValueKind.Null, unmapped.GetProperty("openmeter_subject").ValueKind);
    }

    [Theory]
    [InlineData("acme", """{"stripe_customer_id":"acme"}""", "stripe_customer_id")]
    [InlineData("acme", """{"stripe_customer_id":"cus_"}""", "stripe_customer_id")]
    [InlineData("acme", """{"stripe_customer_id":"cus_a b"}""", "stripe_customer_id")]
    [InlineData("acme", """{"stripe_customer_id":42}""", "stripe_customer_id")]
    [InlineData("acme", """{"lago_external_subscription_id":""}""", "lago_external_subscription_id")]
    [InlineData("acme", """{"openmeter_subject":"has space"}""", "openmeter_subject")]
    [InlineData("acme", """{"openmeter_subject":"tab\there"}""", "openmeter_subject")]
    [InlineData("acme", """{"plan":"team"}""", "plan")]
    [InlineData("acme", """["cus_1"]""", "JSON object")]
    [InlineData("acme", """{"stripe_customer_id":""", "not valid JSON")]
    [InlineData("Acme", """{"stripe_customer_id":"cus_1"}""", "tenant")]
    [InlineData("-acme", """{"stripe_customer_id":"cus_1"}""", "tenant")]
    public async Task BadInput_Is400NamingTheProblem_AndWritesNothing(string tenant, string body, string named)
    {
        using HttpClient root = _host.Client();
        HttpResponseMessage response = await PutAsync(root, tenant, body);
        JsonElement error = await Json.ReadAsync(response);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(named, error.GetProperty("error").Str("message"), StringComparison.Ordinal);
        List<TableEntity> written = await TestStorage.AllEntitiesAsync(_host.TablePrefix + "tenants");
        Assert.Empty(written);
    }

    [Fact]
    public async Task ALongIdIsRefused()
    {
        using HttpClient root = _host.Client();
        HttpResponseMessage response = await PutAsync(root, "acme", $$"""{"openmeter_subject":"{{new string('s', 256)}}"}""");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await PutAsync(root, "acme", $$"""{"openmeter_subject":"{{new string('s', 255)}}"}""")).StatusCode);
    }

    [Fact]
    public async Task TenantTokens_CannotWrite_AndReadOnlyTheirOwn()
    {
        using HttpClient root = _host.Client();
        await PutAsync(root, "acme", """{"stripe_customer_id":"cus_1"}""");
        using HttpClient acme = _host.Client(await _host.IssueTenantTokenAsync("acme"));

        HttpResponseMessage own = await PutAsync(acme, "acme", """{"stripe_customer_id":"cus_2"}""");
        HttpResponseMessage other = await PutAsync(acme, "globex", """{"stripe_customer_id":"cus_2"}""");
        Assert.Equal((HttpStatusCode.Forbidden, HttpStatusCode.Forbidden), (own.StatusCode, other.StatusCode));
        Assert.Equal("cus_1", (await Json.ReadAsync(await acme.GetAsync("/v1/tenants/acme/billing"))).Str("stripe_customer_id"));
        Assert.Equal(HttpStatusCode.Forbidden, (await acme.GetAsync("/v1/tenants/globex/billing")).StatusCode);
        using HttpClient anonymous = _host.Client(string.Empty);
        Assert.Equal(HttpStatusCode.Unauthorized, (await PutAsync(anonymous, "acme", """{"stripe_customer_id":"cus_3"}""")).StatusCode);
        Assert.Equal("cus_1", (await Json.ReadAsync(await root.GetAsync("/v1/tenants/acme/billing"))).Str("stripe_customer_id"));
    }

    private static Task<HttpResponseMessage> PutAsync(HttpClient client, string tenant, string body) =>
        client.PutAsync($"/v1/tenants/{tenant}/billing", new StringContent(body, Encoding.UTF8, "application/json"));
}
