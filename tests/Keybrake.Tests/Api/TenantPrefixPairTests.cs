using System.Net;
using System.Text.Json;
using Keybrake.Tests.Support;

namespace Keybrake.Tests.Api;

/// <summary>
/// Issue #20 §2: tenants whose names prefix each other (<c>acme</c> / <c>acme2</c>). A scope check that
/// compares "starts with the tenant" without the ':' separator lets acme's token into acme2's data; every
/// operator route is tried here with acme's token against acme2 (and the other way round), with acme2's
/// data present in every table the route reads.
/// </summary>
public sealed class TenantPrefixPairTests : IAsyncLifetime
{
    private const string Date = "2026-11-02";
    private ProxyHost _proxy = null!;
    private JsonElement _acmeKey;
    private JsonElement _acme2Key;
    private string _acme2AuditId = null!;
    private HttpClient _root = null!;
    private HttpClient _acme = null!;
    private HttpClient _acme2 = null!;

    public async Task InitializeAsync()
    {
        _proxy = await ProxyHost.StartAsync();
        _root = _proxy.Host.Client();
        _acme = _proxy.Host.Client(await _proxy.Host.IssueTenantTokenAsync("acme"));
        _acme2 = _proxy.Host.Client(await _proxy.Host.IssueTenantTokenAsync("acme2"));
        _acmeKey = await _proxy.IssueKeyAsync("acme:billing-agent:pair:run-1", "stripe", "POST /v1/payment_intents");
        _acme2Key = await _proxy.IssueKeyAsync("acme2:billing-agent:pair:run-1", "stripe", "POST /v1/payment_intents");

        // Data of both tenants in every table: audit rows, counters, budgets (root's and the tenant's own), alerts, rollups, billing, plans.
        await Ok(_root.PutAsync("/v1/budgets/acme2:", Json.Content(new { daily_usd = 30, alert_thresholds = new[] { 0.5 } })));
        await Ok(_acme2.PutAsync("/v1/budgets/acme2:billing-agent", Json.Content(new { daily_usd = 40 })));
        await Ok(_acme.PutAsync("/v1/budgets/acme:billing-agent", Json.Content(new { daily_usd = 40 })));
        await ChargeAsync(_acmeKey);
        _acme2AuditId = await ChargeAsync(_acme2Key);
        await Ok(_root.PutAsync("/v1/tenants/acme2", Json.Content(new { plan = "team" })));
        await Ok(_root.PutAsync("/v1/tenants/acme2/billing", Json.Content(new { stripe_customer_id = "cus_acme2" })));
        await Ok(_root.PostAsync("/v1/rollups/" + Date, null));
    }

    public async Task DisposeAsync()
    {
        _root.Dispose();
        _acme.Dispose();
        _acme2.Dispose();
        await _proxy.DisposeAsync();
    }

    [Fact]
    public async Task AcmeToken_OnEveryRoute_NeverReadsOrChangesAcme2()
    {
        // Writes naming acme2 are refused, and nothing of acme2's changed.
        await Refused(_acme.PostAsync("/v1/keys", Json.Content(new
        {
            label = "acme2:billing-agent:pair:run-2", vendor = "stripe", daily_usd_cap = 5, allowed_endpoints = new[] { "POST /v1/refunds" }, expires_in = "1h",
        })));
        await Refused(_acme.DeleteAsync("/v1/keys/" + _acme2Key.Str("id")));
        await Refused(_acme.PostAsync("/v1/keys/revoke", Json.Content(new { label_prefix = "acme2:" })));
        await Refused(_acme.PostAsync("/v1/keys/revoke", Json.Content(new { label_prefix = "acme2" })));
        await Refused(_acme.PutAsync("/v1/budgets/acme2:", Json.Content(new { daily_usd = 99_999 })));
        await Refused(_acme.PutAsync("/v1/budgets/acme2:billing-agent", Json.Content(new { daily_usd = 99_999 })));
        await Refused(_acme.PutAsync("/v1/budgets/acme2", Json.Content(new { daily_usd = 99_999 })));
        await Refused(_acme.DeleteAsync("/v1/budgets/acme2:billing-agent"));
        await Refused(_acme.PutAsync("/v1/tenants/acme2", Json.Content(new { plan = "scale" })));
        await Refused(_acme.PutAsync("/v1/tenants/acme2/billing", Json.Content(new { stripe_customer_id = "cus_evil" })));
        await Refused(_acme.PostAsync($"/v1/audit/acme2/{_acme2AuditId}/resolve", Json.Content(new { charged = false })));
        await Refused(_acme.PostAsync("/v1/rollups/" + Date, null));
        await Refused(_acme.PostAsync("/v1/tokens", Json.Content(new { tenant = "acme2" })));
        await Refused(_acme.GetAsync("/v1/tokens"));
        await Refused(_acme.PutAsync("/v1/cap-policy", Json.Content(new { minimum_usd = 9 })));

        Assert.Equal("active", (await Ok(_root.GetAsync("/v1/keys/" + _acme2Key.Str("id")))).Str("status"));
        List<JsonElement> budgets = [.. (await Ok(_root.GetAsync("/v1/budgets"))).GetProperty("budgets").EnumerateArray()];
        Assert.Equal(30m, budgets.Single(b => b.Str("label_prefix") == "acme2:").GetProperty("daily_usd").GetDecimal());
        Assert.Equal(40m, budgets.Single(b => b.Str("label_prefix") == "acme2:billing-agent").GetProperty("daily_usd").GetDecimal());
        Assert.DoesNotContain(budgets, b => b.Str("label_prefix") == "acme2");
        Assert.Equal("cus_acme2", (await Ok(_root.GetAsync("/v1/tenants/acme2/billing"))).Str("stripe_customer_id"));

        // Reads naming acme2 are refused; reads of "everything" hold only acme's.
        await Refused(_acme.GetAsync("/v1/keys/" + _acme2Key.Str("id")));
        await Refused(_acme.GetAsync("/v1/keys?label_prefix=acme2:"));
        await Refused(_acme.GetAsync("/v1/keys?label_prefix=acme2"));
        await Refused(_acme.GetAsync("/v1/audit?label_prefix=acme2:"));
        await Refused(_acme.GetAsync("/v1/spend?label_prefix=acme2:"));
        await Refused(_acme.GetAsync("/v1/tenants/acme2/billing"));

        string everything = string.Join("\n", await Task.WhenAll(
            Text(_acme.GetAsync("/v1/keys")),
            Text(_acme.GetAsync("/v1/keys?label_prefix=acme")),
            Text(_acme.GetAsync("/v1/audit?limit=1000")),
            Text(_acme.GetAsync("/v1/spend?group_by=tenant,label")),
            Text(_acme.GetAsync("/v1/budgets")),
            Text(_acme.GetAsync("/v1/alerts")),
            Text(_acme.GetAsync("/v1/rollups?date=" + Date)),
            Text(_acme.GetAsync("/v1/exports?date=" + Date))));
        Assert.Contains("acme:billing-agent:pair:run-1", everything, StringComparison.Ordinal);
        Assert.DoesNotContain("acme2", everything, StringComparison.Ordinal);
        await OnlyOwnOperatorActionsAsync(_acme, "acme");
    }

    [Fact]
    public async Task Acme2Token_OnEveryRoute_NeverReadsOrChangesAcme()
    {
        await Refused(_acme2.DeleteAsync("/v1/keys/" + _acmeKey.Str("id")));
        await Refused(_acme2.PostAsync("/v1/keys/revoke", Json.Content(new { label_prefix = "acme:" })));
        await Refused(_acme2.PutAsync("/v1/budgets/acme:billing-agent", Json.Content(new { daily_usd = 99_999 })));
        await Refused(_acme2.DeleteAsync("/v1/budgets/acme:billing-agent"));
        await Refused(_acme2.GetAsync("/v1/keys?label_prefix=acme:"));
        await Refused(_acme2.GetAsync("/v1/tenants/acme/billing"));
        Assert.Equal("active", (await Ok(_root.GetAsync("/v1/keys/" + _acmeKey.Str("id")))).Str("status"));

        string everything = string.Join("\n", await Task.WhenAll(
            Text(_acme2.GetAsync("/v1/keys")),
            Text(_acme2.GetAsync("/v1/audit?limit=1000")),
            Text(_acme2.GetAsync("/v1/spend?group_by=tenant,label")),
            Text(_acme2.GetAsync("/v1/budgets")),
            Text(_acme2.GetAsync("/v1/alerts")),
            Text(_acme2.GetAsync("/v1/rollups?date=" + Date))));
        Assert.Contains("acme2:billing-agent:pair:run-1", everything, StringComparison.Ordinal);
        Assert.DoesNotContain("acme:", everything, StringComparison.Ordinal);
        await OnlyOwnOperatorActionsAsync(_acme2, "acme2");
    }

    /// <summary>
    /// The operator audit holds the token's own refused attempts on the other tenant (who tried what), so
    /// it is checked by row: every row is about this tenant, and root's actions on the other one are absent.
    /// </summary>
    private static async Task OnlyOwnOperatorActionsAsync(HttpClient token, string tenant)
    {
        List<JsonElement> actions = [.. (await Ok(token.GetAsync("/v1/operator-audit"))).GetProperty("actions").EnumerateArray()];
        Assert.Contains(actions, a => a.Str("operator") == "root");
        Assert.All(actions, a => Assert.Equal(tenant, a.Str("tenant")));
        Assert.All(actions.Where(a => a.Str("operator") == "root"), a => Assert.DoesNotContain(tenant == "acme" ? "acme2" : "acme:", a.GetRawText(), StringComparison.Ordinal));
    }

    private async Task<string> ChargeAsync(JsonElement key)
    {
        using var agent = new HttpClient { BaseAddress = _proxy.ProxyBase("stripe") };
        agent.DefaultRequestHeaders.Authorization = new("Bearer", key.Str("key"));
        HttpResponseMessage response = await agent.PostAsync("v1/payment_intents", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["amount"] = "2000", ["currency"] = "usd", ["confirm"] = "true", ["payment_method"] = "pm_card_visa",
        }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response.Headers.GetValues("X-Keybrake-Audit-Id").Single();
    }

    /// <summary>403 (or 404 where existence must not leak), always with the error body.</summary>
    private static async Task Refused(Task<HttpResponseMessage> call)
    {
        HttpResponseMessage response = await call;
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.NotFound,
            $"{response.RequestMessage!.Method} {response.RequestMessage.RequestUri}: {(int)response.StatusCode} {body}");
        Assert.StartsWith("{\"error\":", body, StringComparison.Ordinal);
    }

    private static async Task<JsonElement> Ok(Task<HttpResponseMessage> call)
    {
        HttpResponseMessage response = await call;
        JsonElement body = await Json.ReadAsync(response);
        Assert.True(response.IsSuccessStatusCode, $"{response.RequestMessage!.Method} {response.RequestMessage.RequestUri}: {(int)response.StatusCode} {body}");
        return body;
    }

    private static async Task<string> Text(Task<HttpResponseMessage> call)
    {
        HttpResponseMessage response = await call;
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.RequestMessage!.Method} {response.RequestMessage.RequestUri}: {(int)response.StatusCode} {body}");
        return body;
    }
}
