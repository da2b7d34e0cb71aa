using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Keybrake.Tests.Support;

namespace Keybrake.Tests.Api;

/// <summary>
/// Issue #20 §2: budgets have an owner, tenant tokens expire, can be listed and revoked (everywhere at
/// once), and every write on the operator API is audited with who, what and before/after.
/// </summary>
public sealed class OperatorHardeningTests : IAsyncLifetime
{
    private const string TwentyDollars = "amount=2000&currency=usd&confirm=true&payment_method=pm_card_visa";
    private ProxyHost _proxy = null!;

    public async Task InitializeAsync() => _proxy = await ProxyHost.StartAsync();

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    private KeybrakeHost Host => _proxy.Host;

    [Fact]
    public async Task TenantToken_CannotChangeOrDeleteRootsBudget_ButOwnsTheOnesItCreates_AndEveryCoveringBudgetApplies()
    {
        using HttpClient root = Host.Client();
        (string acmeId, string acmeToken) = await IssueTokenAsync("acme");
        using HttpClient acme = Host.Client(acmeToken);

        JsonElement rootBudget = await OkAsync(root.PutAsync("/v1/budgets/acme:", Json.Content(new { daily_usd = 5 })));
        Assert.Equal("root", rootBudget.Str("owner"));

        // The issue's attack: a tenant token raising the budget root set on its prefix.
        HttpResponseMessage raise = await acme.PutAsync("/v1/budgets/acme:", Json.Content(new { daily_usd = 99_999_999 }));
        Assert.Equal(HttpStatusCode.Forbidden, raise.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await acme.DeleteAsync("/v1/budgets/acme:")).StatusCode);
        Assert.Equal(5m, Budget(await OkAsync(root.GetAsync("/v1/budgets")), "acme:").GetProperty("daily_usd").GetDecimal());

        // Its own budgets it may create, change and delete.
        JsonElement own = await OkAsync(acme.PutAsync("/v1/budgets/acme:billing-agent", Json.Content(new { daily_usd = 100 })));
        Assert.Equal(("acme", acmeId), (own.Str("owner"), own.Str("updated_by")));
        Assert.Equal(150m, (await OkAsync(acme.PutAsync("/v1/budgets/acme:billing-agent", Json.Content(new { daily_usd = 150 })))).GetProperty("daily_usd").GetDecimal());

        // Root may tighten it; it stays the tenant's.
        JsonElement tightened = await OkAsync(root.PutAsync("/v1/budgets/acme:billing-agent", Json.Content(new { daily_usd = 120 })));
        Assert.Equal(("acme", "root"), (tightened.Str("owner"), tightened.Str("updated_by")));

        // Both budgets cover the label: the root's $5 refuses a $20 charge although the tenant's allows it.
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-1", "stripe", "POST /v1/payment_intents");
        using var agent = new HttpClient { BaseAddress = _proxy.ProxyBase("stripe") };
        agent.DefaultRequestHeaders.Authorization = new("Bearer", key.Str("key"));
        HttpResponseMessage charge = await agent.PostAsync("v1/payment_intents", new StringContent(TwentyDollars, System.Text.Encoding.UTF8, "application/x-www-form-urlencoded"));
        Assert.Equal(HttpStatusCode.TooManyRequests, charge.StatusCode);
        Assert.Contains("acme:", await charge.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(_proxy.Vendors.Stripe.Ledger);

        Assert.Equal(HttpStatusCode.OK, (await acme.DeleteAsync("/v1/budgets/acme:billing-agent")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await acme.DeleteAsync("/v1/budgets/acme:billing-agent")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await root.DeleteAsync("/v1/budgets/acme:")).StatusCode);
        Assert.Empty((await OkAsync(root.GetAsync("/v1/budgets"))).GetProperty("budgets").EnumerateArray());
    }

    [Fact]
    public async Task TenantTokens_ExpireIn90DaysByDefault_AtMostAYear_AndAreListedWithoutSecrets()
    {
        using HttpClient root = Host.Client();
        DateTimeOffset now = Host.Time.GetUtcNow();

        JsonElement issued = await CreatedAsync(root.PostAsync("/v1/tokens", Json.Content(new { tenant = "acme", description = "ops" })));
        Assert.Equal(now.AddDays(90).UtcDateTime, issued.GetProperty("expires_at").GetDateTime().ToUniversalTime());
        JsonElement yearLong = await CreatedAsync(root.PostAsync("/v1/tokens", Json.Content(new { tenant = "globex", expires_in = "365d" })));
        Assert.Equal(now.AddDays(365).UtcDateTime, yearLong.GetProperty("expires_at").GetDateTime().ToUniversalTime());
        HttpResponseMessage tooLong = await root.PostAsync("/v1/tokens", Json.Content(new { tenant = "acme", expires_in = "366d" }));
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
        Assert.Contains("expires_in", await tooLong.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        HttpResponseMessage list = await root.GetAsync("/v1/tokens");
        string raw = await list.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        List<JsonElement> tokens = [.. JsonDocument.Parse(raw).RootElement.GetProperty("tokens").EnumerateArray()];
        Assert.Equal(new[] { issued.Str("id"), yearLong.Str("id") }.Order(StringComparer.Ordinal), tokens.Select(t => t.Str("id")).Order(StringComparer.Ordinal));
        Assert.All(tokens, t => Assert.Equal(("active", "root"), (t.Str("status"), t.Str("issued_by"))));
        Assert.False(tokens[0].TryGetProperty("token", out _));
        Assert.DoesNotContain(issued.Str("token"), raw, StringComparison.Ordinal);
        Assert.DoesNotContain(issued.Str("token")[^20..], raw, StringComparison.Ordinal);
        Assert.DoesNotContain("hash", raw, StringComparison.OrdinalIgnoreCase);

        using HttpClient acme = Host.Client(issued.Str("token"));
        Assert.Equal(HttpStatusCode.Forbidden, (await acme.GetAsync("/v1/tokens")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await acme.DeleteAsync("/v1/tokens/" + yearLong.Str("id"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await acme.GetAsync("/v1/keys")).StatusCode);

        // The default lifetime ends: 90 days on, the token is refused.
        Host.Time.Advance(TimeSpan.FromDays(90));
        Assert.Equal(HttpStatusCode.Unauthorized, (await acme.GetAsync("/v1/keys")).StatusCode);
        Assert.Contains("\"expired\"", await (await root.GetAsync("/v1/tokens")).Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RevokedTenantToken_IsRefusedAtOnce_OnEveryInstance()
    {
        using HttpClient root = Host.Client();
        (string id, string token) = await IssueTokenAsync("acme");
        await using KeybrakeHost second = await KeybrakeHost.StartAsync(tablePrefix: Host.TablePrefix);
        using HttpClient here = Host.Client(token);
        using HttpClient there = second.Client(token);
        Assert.Equal(HttpStatusCode.OK, (await here.GetAsync("/v1/keys")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await there.GetAsync("/v1/keys")).StatusCode);

        JsonElement revoked = await OkAsync(root.DeleteAsync("/v1/tokens/" + id));
        Assert.Equal(("revoked", "root"), (revoked.Str("status"), revoked.Str("revoked_by")));

        // No waiting: the token row is read on every request, so both instances refuse it on the next one.
        Assert.Equal(HttpStatusCode.Unauthorized, (await here.GetAsync("/v1/keys")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await there.GetAsync("/v1/keys")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await there.PostAsync("/v1/keys/revoke", Json.Content(new { label_prefix = "acme:" }))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await root.DeleteAsync("/v1/tokens/tok_nope")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await root.DeleteAsync("/v1/tokens/" + id)).StatusCode);
    }

    [Fact]
    public async Task EveryOperatorWrite_IsAudited_WithOperatorTargetAndBeforeAfter_AndTenantsSeeOnlyTheirOwn()
    {
        using HttpClient root = Host.Client();
        (string acmeId, string acmeToken) = await IssueTokenAsync("acme");
        (_, string acme2Token) = await IssueTokenAsync("acme2");
        using HttpClient acme = Host.Client(acmeToken);
        using HttpClient acme2 = Host.Client(acme2Token);

        JsonElement key = await Host.IssueKeyAsync("acme:billing-agent:audit:run-1");
        JsonElement revoked = await OkAsync(acme.DeleteAsync("/v1/keys/" + key.Str("id")));
        Assert.Equal(("root", acmeId), (revoked.Str("issued_by"), revoked.Str("revoked_by")));
        Assert.Equal(acmeId, (await OkAsync(root.GetAsync("/v1/keys/" + key.Str("id")))).Str("revoked_by"));
        await OkAsync(acme.PutAsync("/v1/budgets/acme:billing-agent", Json.Content(new { daily_usd = 10 })));
        await OkAsync(acme.PutAsync("/v1/budgets/acme:billing-agent", Json.Content(new { daily_usd = 12 })));
        await OkAsync(acme2.PutAsync("/v1/budgets/acme2:billing-agent", Json.Content(new { daily_usd = 3 })));
        await OkAsync(root.PutAsync("/v1/cap-policy", Json.Content(new { minimum_usd = 2 })));
        await OkAsync(root.PutAsync("/v1/tenants/acme", Json.Content(new { plan = "team" })));
        await OkAsync(root.PutAsync("/v1/tenants/acme/billing", Json.Content(new { stripe_customer_id = "cus_1" })));
        await OkAsync(root.PostAsync("/v1/keys/revoke", Json.Content(new { label_prefix = "acme:" })));
        await OkAsync(root.PostAsync("/v1/rollups/2026-11-01", null));
        Assert.Equal(HttpStatusCode.Forbidden, (await acme.PutAsync("/v1/budgets/acme2:x", Json.Content(new { daily_usd = 1 }))).StatusCode);

        List<JsonElement> all = [.. (await OkAsync(root.GetAsync("/v1/operator-audit"))).GetProperty("actions").EnumerateArray()];
        Assert.Equal(all.Select(a => a.GetProperty("ts").GetDateTime()).OrderDescending(), all.Select(a => a.GetProperty("ts").GetDateTime()));
        JsonElement issue = Single(all, "POST", "/v1/keys");
        Assert.Equal(("root", key.Str("id"), "acme", "applied", 201), (issue.Str("operator"), issue.Str("target"), issue.Str("tenant"), issue.Str("outcome"), issue.GetProperty("status").GetInt32()));
        Assert.Equal(JsonValueKind.Null, issue.GetProperty("before").ValueKind);
        Assert.False(issue.GetProperty("after").TryGetProperty("key", out _));
        Assert.DoesNotContain(key.Str("key"), await (await root.GetAsync("/v1/operator-audit")).Content.ReadAsStringAsync(), StringComparison.Ordinal);

        JsonElement tokenIssue = all.First(a => a.Str("route") == "/v1/tokens");
        Assert.Equal(JsonValueKind.Null, tokenIssue.GetProperty("after").GetProperty("revoked_at").ValueKind);
        Assert.DoesNotContain(acmeToken, JsonSerializer.Serialize(all), StringComparison.Ordinal);

        JsonElement revoke = Single(all, "DELETE", "/v1/keys/" + key.Str("id"));
        Assert.Equal((acmeId, "active", "revoked"), (revoke.Str("operator"), revoke.GetProperty("before").Str("status"), revoke.GetProperty("after").Str("status")));

        List<JsonElement> budgetChanges = [.. all.Where(a => a.Str("route") == "/v1/budgets/acme:billing-agent")];
        Assert.Equal(2, budgetChanges.Count);
        Assert.Single(budgetChanges, a => a.GetProperty("before").ValueKind == JsonValueKind.Null);
        JsonElement raised = Assert.Single(budgetChanges, a => a.GetProperty("before").ValueKind == JsonValueKind.Object);
        Assert.Equal((10m, 12m), (raised.GetProperty("before").GetProperty("daily_usd").GetDecimal(), raised.GetProperty("after").GetProperty("daily_usd").GetDecimal()));

        JsonElement policy = Single(all, "PUT", "/v1/cap-policy");
        Assert.Equal((1m, 2m), (policy.GetProperty("before").GetProperty("minimum_usd").GetDecimal(), policy.GetProperty("after").GetProperty("minimum_usd").GetDecimal()));
        Assert.Equal(JsonValueKind.Null, policy.GetProperty("tenant").ValueKind);
        Assert.Equal("team", Single(all, "PUT", "/v1/tenants/acme").GetProperty("after").Str("plan"));
        Assert.Equal("cus_1", Single(all, "PUT", "/v1/tenants/acme/billing").GetProperty("after").Str("stripe_customer_id"));
        Assert.Equal("2026-11-01", Single(all, "POST", "/v1/rollups/2026-11-01").Str("target"));
        Assert.Equal(0, Single(all, "POST", "/v1/keys/revoke").GetProperty("after").GetProperty("revoked").GetInt32());

        JsonElement refused = Single(all, "PUT", "/v1/budgets/acme2:x");
        Assert.Equal(("refused", 403, acmeId), (refused.Str("outcome"), refused.GetProperty("status").GetInt32(), refused.Str("operator")));

        // A tenant token sees the actions about its tenant (root's included), never acme2's or platform-wide ones.
        List<JsonElement> mine = [.. (await OkAsync(acme.GetAsync("/v1/operator-audit"))).GetProperty("actions").EnumerateArray()];
        Assert.NotEmpty(mine);
        Assert.All(mine, a => Assert.Equal("acme", a.Str("tenant")));
        Assert.Contains(mine, a => a.Str("operator") == "root" && a.Str("route") == "/v1/keys");
        Assert.DoesNotContain(mine, a => a.Str("route") == "/v1/budgets/acme2:billing-agent");

        // Its own refused attempt on acme2's prefix is in its view (who tried what), not in acme2's.
        Assert.Contains(mine, a => a.Str("route") == "/v1/budgets/acme2:x" && a.Str("outcome") == "refused");
        List<JsonElement> theirs = [.. (await OkAsync(acme2.GetAsync("/v1/operator-audit"))).GetProperty("actions").EnumerateArray()];
        Assert.Equal(["/v1/budgets/acme2:billing-agent", "/v1/tokens"], theirs.Select(a => a.Str("route")).Order(StringComparer.Ordinal));
        Assert.All(theirs, a => Assert.Equal("acme2", a.Str("tenant")));
    }

    private static JsonElement Single(List<JsonElement> actions, string method, string route) =>
        Assert.Single(actions, a => a.Str("method") == method && a.Str("route") == route);

    private static JsonElement Budget(JsonElement list, string prefix) =>
        Assert.Single(list.GetProperty("budgets").EnumerateArray(), b => b.Str("label_prefix") == prefix);

    private async Task<(string Id, string Token)> IssueTokenAsync(string tenant)
    {
        JsonElement issued = await CreatedAsync(Host.Client().PostAsJsonAsync("/v1/tokens", new { tenant }));
        return (issued.Str("id"), issued.Str("token"));
    }

    private static async Task<JsonElement> OkAsync(Task<HttpResponseMessage> call)
    {
        HttpResponseMessage response = await call;
        JsonElement body = await Json.ReadAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode} {body}");
        return body;
    }

    private static async Task<JsonElement> CreatedAsync(Task<HttpResponseMessage> call)
    {
        HttpResponseMessage response = await call;
        JsonElement body = await Json.ReadAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode} {body}");
        return body;
    }
}
