using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Keybrake.Tests.Support;

namespace Keybrake.Tests.Caps;

/// <summary>The seed's cap hierarchy: a key issued without a cap gets plan base × agent-type multiplier, at least $1.</summary>
public sealed class CapPolicyTests : IAsyncLifetime
{
    private KeybrakeHost _host = null!;

    public async Task InitializeAsync() => _host = await KeybrakeHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Theory]
    [InlineData(null, "billing-agent", 5)]
    [InlineData("team", "billing-agent", 200)]
    [InlineData("team", "onboarding-agent", 100)]
    [InlineData("team", "notify-agent", 20)]
    [InlineData("team", "reporting-agent", 1)]
    [InlineData("team", "research-agent", 100)]
    [InlineData("scale", "notify-agent", 100)]
    [InlineData("hobby", "reporting-agent", 1)]
    [InlineData("free", "notify-agent", 1)]
    public async Task KeyWithoutCap_GetsThePolicyCapOfItsPlanAndAgentType(string? plan, string agentType, decimal expected)
    {
        using HttpClient root = _host.Client();
        if (plan is not null)
        {
            Assert.Equal(HttpStatusCode.OK, (await root.PutAsJsonAsync("/v1/tenants/acme", new { plan })).StatusCode);
        }

        JsonElement key = await IssueWithoutCapAsync(root, $"acme:{agentType}:feature:run-1");

        Assert.Equal(expected, key.GetProperty("daily_usd_cap").GetDecimal());
        Assert.StartsWith($"policy: plan {plan ?? "free"}", key.Str("cap_source"), StringComparison.Ordinal);
        Assert.Contains(agentType, key.Str("cap_source"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task KeyWithACap_KeepsItAndSaysSo()
    {
        JsonElement key = await _host.IssueKeyAsync("acme:billing-agent:feature:run-2", cap: 7.5m);

        Assert.Equal(7.5m, key.GetProperty("daily_usd_cap").GetDecimal());
        Assert.Equal("request", key.Str("cap_source"));
    }

    [Fact]
    public async Task RootCanChangeThePolicy_AndNewKeysFollowIt()
    {
        using HttpClient root = _host.Client();
        HttpResponseMessage put = await root.PutAsJsonAsync("/v1/cap-policy", new
        {
            plan_daily_usd = new Dictionary<string, decimal> { ["free"] = 10, ["enterprise"] = 5000 },
            agent_multipliers = new Dictionary<string, decimal> { ["billing-agent"] = 0.2m },
            minimum_usd = 2,
        });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        await root.PutAsJsonAsync("/v1/tenants/bigco", new { plan = "enterprise" });

        Assert.Equal(1000m, (await IssueWithoutCapAsync(root, "bigco:billing-agent:x:run-1")).GetProperty("daily_usd_cap").GetDecimal());
        Assert.Equal(2m, (await IssueWithoutCapAsync(root, "acme:billing-agent:x:run-1")).GetProperty("daily_usd_cap").GetDecimal());
        JsonElement policy = await Json.ReadAsync(await root.GetAsync("/v1/cap-policy"));
        Assert.Equal(5000m, policy.GetProperty("plan_daily_usd").GetProperty("enterprise").GetDecimal());
        Assert.Equal(0.5m, policy.GetProperty("default_multiplier").GetDecimal());
    }

    [Fact]
    public async Task PlansAndPolicy_AreRootOnly_AndValidated()
    {
        string acmeToken = await _host.IssueTenantTokenAsync("acme");
        using HttpClient acme = _host.Client(acmeToken);
        using HttpClient root = _host.Client();

        Assert.Equal(HttpStatusCode.Forbidden, (await acme.PutAsJsonAsync("/v1/tenants/acme", new { plan = "scale" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await acme.PutAsJsonAsync("/v1/cap-policy", new { minimum_usd = 100 })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await root.PutAsJsonAsync("/v1/tenants/acme", new { plan = "platinum" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await root.PutAsJsonAsync("/v1/tenants/Acme", new { plan = "team" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await root.PutAsJsonAsync("/v1/cap-policy", new { minimum_usd = 0 })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await root.PutAsJsonAsync("/v1/cap-policy", new { agent_multipliers = new { x = -1 } })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await root.PutAsJsonAsync("/v1/cap-policy", new { default_plan = "gold" })).StatusCode);

        // The tenant's keys still get the default policy: nothing above was written.
        Assert.Equal(5m, (await IssueWithoutCapAsync(acme, "acme:billing-agent:x:run-3")).GetProperty("daily_usd_cap").GetDecimal());
    }

    private static async Task<JsonElement> IssueWithoutCapAsync(HttpClient client, string label)
    {
        HttpResponseMessage response = await client.PostAsJsonAsync("/v1/keys", new
        {
            label, vendor = "stripe", allowed_endpoints = new[] { "POST /v1/payment_intents" }, expires_in = "1h",
        });
        JsonElement body = await Json.ReadAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.Created, body.ToString());
        return body;
    }
}
