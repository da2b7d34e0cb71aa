using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Keybrake.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Keybrake.Tests.Api;

public sealed class KeyLifecycleTests : IAsyncLifetime
{
    private KeybrakeHost _host = null!;

    public async Task InitializeAsync() => _host = await KeybrakeHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task TenantsWithKeys_AreListedFromOneRegistryRowEach_NotFromEveryKey()
    {
        for (int run = 0; run < 5; run++)
        {
            await _host.IssueKeyAsync($"acme:billing-agent:checkout:run-{run}");
        }

        await _host.IssueKeyAsync("globex:notify-agent:sms:run-1");

        IReadOnlyList<string> tenants = await _host.Services.GetRequiredService<Keybrake.Domain.Keys.IVaultKeyStore>().TenantsAsync(CancellationToken.None);
        Assert.Equal(["acme", "globex"], tenants);
        List<Azure.Data.Tables.TableEntity> registry = await TestStorage.AllEntitiesAsync(_host.TablePrefix + "tenants");
        Assert.Equal([("acme", "keys"), ("globex", "keys")], registry.Select(e => (e.PartitionKey, e.RowKey)).Order());
    }

    [Fact]
    public async Task IssueKey_ReturnsSecretOnceAndTheSeedFields()
    {
        JsonElement issued = await _host.IssueKeyAsync("acme:billing-agent:refunds:run-42", cap: 12.5m, ttl: "30m");

        Assert.StartsWith("kbk_acme_", issued.Str("key"));
        Assert.StartsWith("vk_acme_", issued.Str("id"));
        Assert.Equal("acme:billing-agent:refunds:run-42", issued.Str("label"));
        Assert.Equal("stripe", issued.Str("vendor"));
        Assert.Equal(12.5m, issued.GetProperty("daily_usd_cap").GetDecimal());
        Assert.Equal(["POST /v1/payment_intents", "POST /v1/refunds"], issued.GetProperty("allowed_endpoints").EnumerateArray().Select(e => e.GetString()));
        DateTime created = issued.GetProperty("created_at").GetDateTime();
        Assert.Equal(_host.Time.GetUtcNow().UtcDateTime, created);
        Assert.Equal(created.AddMinutes(30), issued.GetProperty("expires_at").GetDateTime());
        Assert.EndsWith("Z", issued.Str("expires_at"));

        using HttpClient client = _host.Client();
        JsonElement fetched = await Json.ReadAsync(await client.GetAsync($"/v1/keys/{issued.Str("id")}"));
        Assert.False(fetched.TryGetProperty("key", out _), "the secret is shown only when the key is issued");
        Assert.Equal("active", fetched.Str("status"));
        Assert.Equal(issued.Str("label"), fetched.Str("label"));
    }

    [Fact]
    public async Task ListKeys_FiltersByLabelPrefixVendorAndStatus()
    {
        JsonElement a = await _host.IssueKeyAsync("acme:billing-agent:refunds:run-1");
        JsonElement b = await _host.IssueKeyAsync("acme:notify-agent:sms:run-2", vendor: "twilio", endpoints: ["POST /2010-04-01/Accounts/*/Messages"]);
        await _host.IssueKeyAsync("acme2:billing-agent:refunds:run-1");
        await _host.IssueKeyAsync("globex:billing-agent:refunds:run-1");
        using HttpClient client = _host.Client();

        Assert.Equal(Ids(a, b), await ListIdsAsync(client, "/v1/keys?label_prefix=acme:"));
        Assert.Equal(Ids(a), await ListIdsAsync(client, "/v1/keys?label_prefix=acme:billing-agent"));
        Assert.Equal(Ids(b), await ListIdsAsync(client, "/v1/keys?label_prefix=acme:&vendor=twilio"));
        Assert.Equal(3, (await ListIdsAsync(client, "/v1/keys?label_prefix=acme")).Count);
        Assert.Equal(4, (await ListIdsAsync(client, "/v1/keys")).Count);

        await client.DeleteAsync($"/v1/keys/{a.Str("id")}");
        Assert.Equal(Ids(a), await ListIdsAsync(client, "/v1/keys?label_prefix=acme:&status=revoked"));
        Assert.Equal(Ids(b), await ListIdsAsync(client, "/v1/keys?label_prefix=acme:&status=active"));
    }

    [Fact]
    public async Task ListKeys_PagesWithCursorUntilEveryKeyIsSeen()
    {
        var issued = new HashSet<string>();
        for (int i = 0; i < 7; i++)
        {
            issued.Add((await _host.IssueKeyAsync($"paged:agent:feature:run-{i}")).Str("id"));
        }

        using HttpClient client = _host.Client();
        var seen = new List<string>();
        string? cursor = null;
        int pages = 0;
        do
        {
            JsonElement page = await Json.ReadAsync(await client.GetAsync($"/v1/keys?label_prefix=paged:&limit=3{(cursor is null ? "" : "&cursor=" + cursor)}"));
            seen.AddRange(page.GetProperty("keys").EnumerateArray().Select(k => k.Str("id")));
            cursor = page.GetProperty("next_cursor").ValueKind == JsonValueKind.String ? page.Str("next_cursor") : null;
            pages++;
        }
        while (cursor is not null && pages < 10);

        Assert.Equal(issued.Order(), seen.Order());
        Assert.True(pages >= 3, $"7 keys in pages of 3 need at least 3 pages, got {pages}");
    }

    [Fact]
    public async Task Key_ExpiresWhenItsTtlPasses()
    {
        JsonElement issued = await _host.IssueKeyAsync("acme:reporting-agent:daily:run-9", ttl: "2h");
        using HttpClient client = _host.Client();

        _host.Time.Advance(TimeSpan.FromHours(2) - TimeSpan.FromSeconds(1));
        Assert.Equal("active", (await Json.ReadAsync(await client.GetAsync($"/v1/keys/{issued.Str("id")}"))).Str("status"));

        _host.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("expired", (await Json.ReadAsync(await client.GetAsync($"/v1/keys/{issued.Str("id")}"))).Str("status"));
        Assert.Equal(Ids(issued), await ListIdsAsync(client, "/v1/keys?label_prefix=acme:reporting-agent&status=expired"));
        Assert.Empty(await ListIdsAsync(client, "/v1/keys?label_prefix=acme:reporting-agent&status=active"));
    }

    [Fact]
    public async Task RevokeKey_MarksItRevokedAndKeepsTheFirstRevocationTime()
    {
        JsonElement issued = await _host.IssueKeyAsync("acme:billing-agent:refunds:run-5");
        using HttpClient client = _host.Client();

        JsonElement revoked = await Json.ReadAsync(await client.DeleteAsync($"/v1/keys/{issued.Str("id")}"));
        Assert.Equal("revoked", revoked.Str("status"));
        string firstRevokedAt = revoked.Str("revoked_at");

        _host.Time.Advance(TimeSpan.FromMinutes(5));
        JsonElement again = await Json.ReadAsync(await client.DeleteAsync($"/v1/keys/{issued.Str("id")}"));
        Assert.Equal(firstRevokedAt, again.Str("revoked_at"));

        HttpResponseMessage missing = await client.DeleteAsync("/v1/keys/vk_acme_aaaaaaaaaaaaaaaaaaaa");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("not_found", (await Json.ReadAsync(missing)).GetProperty("error").Str("code"));
    }

    [Fact]
    public async Task RevokeByPrefix_RevokesEveryMatchingKeyAndReportsHowMany()
    {
        await _host.IssueKeyAsync("acme:billing-agent:refunds:run-7");
        await _host.IssueKeyAsync("acme:billing-agent:charges:run-7");
        JsonElement other = await _host.IssueKeyAsync("acme:billing-agent:refunds:run-8");
        JsonElement otherTenant = await _host.IssueKeyAsync("acme2:billing-agent:refunds:run-7");
        using HttpClient client = _host.Client();

        HttpResponseMessage response = await client.PostAsJsonAsync("/v1/keys/revoke", new { label_prefix = "acme:billing-agent:refunds:run-7" });
        Assert.Equal(1, (await Json.ReadAsync(response)).GetProperty("revoked").GetInt32());

        response = await client.PostAsJsonAsync("/v1/keys/revoke", new { label_prefix = "acme:billing-agent:charges" });
        Assert.Equal(1, (await Json.ReadAsync(response)).GetProperty("revoked").GetInt32());

        Assert.Equal(Ids(other), await ListIdsAsync(client, "/v1/keys?label_prefix=acme:&status=active"));
        Assert.Equal(Ids(otherTenant), await ListIdsAsync(client, "/v1/keys?label_prefix=acme2:&status=active"));

        response = await client.PostAsJsonAsync("/v1/keys/revoke", new { label_prefix = "acme:" });
        Assert.Equal(1, (await Json.ReadAsync(response)).GetProperty("revoked").GetInt32());
        Assert.Empty(await ListIdsAsync(client, "/v1/keys?label_prefix=acme:&status=active"));
    }

    [Fact]
    public async Task SecretsAreStoredOnlyAsHashes_NowhereInTablesOrLogs()
    {
        JsonElement issued = await _host.IssueKeyAsync("acme:billing-agent:refunds:run-3");
        string key = issued.Str("key");
        string tenantToken = await _host.IssueTenantTokenAsync("acme");
        using HttpClient client = _host.Client();
        await client.GetAsync($"/v1/keys/{issued.Str("id")}");
        await client.GetAsync("/v1/keys?label_prefix=acme:");
        using HttpClient wrongClient = _host.Client(key);
        await wrongClient.GetAsync("/v1/keys");

        List<Azure.Data.Tables.TableEntity> entities = await TestStorage.AllEntitiesAsync(_host.TablePrefix);
        Assert.NotEmpty(entities);
        string secretPart = key.Split('_')[3];
        string tokenSecretPart = tenantToken.Split('_')[2];
        foreach (Azure.Data.Tables.TableEntity entity in entities)
        {
            foreach ((string name, object value) in entity)
            {
                string text = value?.ToString() ?? string.Empty;
                Assert.DoesNotContain(secretPart, text, StringComparison.Ordinal);
                Assert.DoesNotContain(tokenSecretPart, text, StringComparison.Ordinal);
                Assert.DoesNotContain(_host.RootToken, text, StringComparison.Ordinal);
            }
        }

        Assert.NotEmpty(_host.Logs.Lines);
        Assert.DoesNotContain(secretPart, _host.Logs.All, StringComparison.Ordinal);
        Assert.DoesNotContain(tokenSecretPart, _host.Logs.All, StringComparison.Ordinal);
        Assert.DoesNotContain(_host.RootToken, _host.Logs.All, StringComparison.Ordinal);
    }

    private static List<string> Ids(params JsonElement[] keys) => keys.Select(k => k.Str("id")).Order().ToList();

    private static async Task<List<string>> ListIdsAsync(HttpClient client, string url)
    {
        HttpResponseMessage response = await client.GetAsync(url);
        JsonElement body = await Json.ReadAsync(response);
        Assert.True(response.IsSuccessStatusCode, body.ToString());
        return body.GetProperty("keys").EnumerateArray().Select(k => k.Str("id")).Order().ToList();
    }
}
