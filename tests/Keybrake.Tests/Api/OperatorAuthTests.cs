using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Keybrake.Tests.Support;

namespace Keybrake.Tests.Api;

public sealed class OperatorAuthTests(SharedHost shared) : IClassFixture<SharedHost>, IAsyncLifetime
{
    private KeybrakeHost _host = null!;

    public async Task InitializeAsync() => _host = await shared.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Theory]
    [InlineData(null)]
    [InlineData("not-a-token")]
    [InlineData("kbo_aaaaaaaaaaaaaaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    public async Task MissingOrInvalidToken_Is401WithErrorBody(string? token)
    {
        using HttpClient client = _host.Client(token ?? string.Empty);
        HttpResponseMessage response = await client.GetAsync("/v1/keys");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        JsonElement error = (await Json.ReadAsync(response)).GetProperty("error");
        Assert.Equal("unauthorized", error.Str("code"));
        Assert.False(string.IsNullOrEmpty(error.Str("message")));
    }

    [Fact]
    public async Task VaultKey_IsNeverAcceptedAsAnOperatorToken()
    {
        JsonElement issued = await _host.IssueKeyAsync("acme:billing-agent:refunds:run-1");
        using HttpClient client = _host.Client(issued.Str("key"));

        HttpResponseMessage list = await client.GetAsync("/v1/keys");
        HttpResponseMessage issue = await client.PostAsJsonAsync("/v1/keys", new { label = "acme:x", vendor = "stripe", daily_usd_cap = 1, allowed_endpoints = new[] { "/v1/**" }, expires_in = "1h" });

        // A vault key on a /v1 route is a Stripe call (an SDK pointed at the app's root), checked against the
        // key's allowlist: refused in Stripe's shape, and nothing of the operator API ran.
        Assert.Equal(HttpStatusCode.Forbidden, list.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, issue.StatusCode);
        Assert.Equal("keybrake_endpoint_not_allowed", (await Json.ReadAsync(list)).GetProperty("error").Str("code"));
        Assert.Equal("keybrake_endpoint_not_allowed", (await Json.ReadAsync(issue)).GetProperty("error").Str("code"));
        using HttpClient root = _host.Client();
        Assert.Equal(1, (await Json.ReadAsync(await root.GetAsync("/v1/keys"))).GetProperty("keys").GetArrayLength());
    }

    [Fact]
    public async Task TenantToken_SeesAndIssuesOnlyItsOwnTenant()
    {
        JsonElement acmeKey = await _host.IssueKeyAsync("acme:billing-agent:refunds:run-1");
        JsonElement globexKey = await _host.IssueKeyAsync("globex:billing-agent:refunds:run-1");
        string acmeToken = await _host.IssueTenantTokenAsync("acme");
        using HttpClient acme = _host.Client(acmeToken);

        JsonElement own = await _host.IssueKeyAsync("acme:notify-agent:sms:run-2", token: acmeToken);
        HttpResponseMessage foreignIssue = await acme.PostAsJsonAsync("/v1/keys", new
        {
            label = "globex:billing-agent:refunds:run-2", vendor = "stripe", daily_usd_cap = 5, allowed_endpoints = new[] { "/v1/**" }, expires_in = "1h",
        });
        Assert.Equal(HttpStatusCode.Forbidden, foreignIssue.StatusCode);

        JsonElement listed = await Json.ReadAsync(await acme.GetAsync("/v1/keys"));
        Assert.Equal(
            new[] { acmeKey.Str("id"), own.Str("id") }.Order(),
            listed.GetProperty("keys").EnumerateArray().Select(k => k.Str("id")).Order());

        Assert.Equal(HttpStatusCode.Forbidden, (await acme.GetAsync("/v1/keys?label_prefix=globex:")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await acme.GetAsync("/v1/keys?label_prefix=acm")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await acme.GetAsync($"/v1/keys/{globexKey.Str("id")}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await acme.DeleteAsync($"/v1/keys/{globexKey.Str("id")}")).StatusCode);

        HttpResponseMessage foreignRevoke = await acme.PostAsJsonAsync("/v1/keys/revoke", new { label_prefix = "globex:" });
        Assert.Equal(HttpStatusCode.Forbidden, foreignRevoke.StatusCode);
        using HttpClient root = _host.Client();
        Assert.Equal("active", (await Json.ReadAsync(await root.GetAsync($"/v1/keys/{globexKey.Str("id")}"))).Str("status"));

        HttpResponseMessage ownRevoke = await acme.PostAsJsonAsync("/v1/keys/revoke", new { label_prefix = "acme:" });
        Assert.Equal(2, (await Json.ReadAsync(ownRevoke)).GetProperty("revoked").GetInt32());
        Assert.Equal("active", (await Json.ReadAsync(await root.GetAsync($"/v1/keys/{globexKey.Str("id")}"))).Str("status"));
    }

    [Fact]
    public async Task TenantToken_CannotIssueTokens()
    {
        string acmeToken = await _host.IssueTenantTokenAsync("acme");
        using HttpClient acme = _host.Client(acmeToken);

        HttpResponseMessage response = await acme.PostAsJsonAsync("/v1/tokens", new { tenant = "acme" });

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task TenantToken_StopsWorkingWhenItExpires()
    {
        using HttpClient root = _host.Client();
        JsonElement issued = await Json.ReadAsync(await root.PostAsJsonAsync("/v1/tokens", new { tenant = "acme", expires_in = "1h" }));
        using HttpClient acme = _host.Client(issued.Str("token"));

        Assert.Equal(HttpStatusCode.OK, (await acme.GetAsync("/v1/keys")).StatusCode);
        _host.Time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(HttpStatusCode.Unauthorized, (await acme.GetAsync("/v1/keys")).StatusCode);
    }

    [Fact]
    public async Task Health_IsTheOnlyAnonymousRoute()
    {
        using HttpClient anonymous = _host.Client(string.Empty);

        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync("/v1/tokens", new { tenant = "acme" })).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync("/v1/keys/revoke", new { label_prefix = "acme:" })).StatusCode);
    }
}
