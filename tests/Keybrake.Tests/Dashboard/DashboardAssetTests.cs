using System.Net;
using Keybrake.Tests.Support;

namespace Keybrake.Tests.Dashboard;

/// <summary>The dashboard's files as the function app serves them: embedded, anonymous, locked down by headers.</summary>
public sealed class DashboardAssetTests
{
    [Theory]
    [InlineData("/dashboard", "text/html")]
    [InlineData("/dashboard/", "text/html")]
    [InlineData("/dashboard/index.html", "text/html")]
    [InlineData("/dashboard/dashboard.js", "text/javascript")]
    [InlineData("/dashboard/dashboard.css", "text/css")]
    public async Task Asset_IsServedWithoutAToken_WithSecurityHeaders(string path, string contentType)
    {
        await using KeybrakeHost host = await KeybrakeHost.StartAsync();
        using HttpClient client = host.Client(string.Empty);

        HttpResponseMessage response = await client.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(contentType, response.Content.Headers.ContentType!.MediaType);
        string csp = Assert.Single(response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'self'", csp, StringComparison.Ordinal);
        Assert.Contains("script-src 'self';", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", csp, StringComparison.Ordinal);
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("no-referrer", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
        Assert.Equal("DENY", Assert.Single(response.Headers.GetValues("X-Frame-Options")));
        Assert.NotEmpty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Page_HasNoInlineScriptOrStyle_AndLoadsNothingFromElsewhere()
    {
        await using KeybrakeHost host = await KeybrakeHost.StartAsync();
        string html = await host.Client(string.Empty).GetStringAsync("/dashboard");

        Assert.Contains("<script src=\"/dashboard/dashboard.js\" defer></script>", html, StringComparison.Ordinal);
        Assert.Equal(1, html.Split("<script", StringSplitOptions.None).Length - 1);
        Assert.DoesNotContain("<style", html, StringComparison.Ordinal);
        Assert.DoesNotContain("style=", html, StringComparison.Ordinal);
        Assert.DoesNotContain("http://", html, StringComparison.Ordinal);
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnchangedAsset_Is304_UnknownOne404()
    {
        await using KeybrakeHost host = await KeybrakeHost.StartAsync();
        using HttpClient client = host.Client(string.Empty);
        HttpResponseMessage first = await client.GetAsync("/dashboard/dashboard.js");

        using var again = new HttpRequestMessage(HttpMethod.Get, "/dashboard/dashboard.js");
        again.Headers.IfNoneMatch.Add(first.Headers.ETag!);
        Assert.Equal(HttpStatusCode.NotModified, (await client.SendAsync(again)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/dashboard/../v1/keys%2F")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/dashboard/secrets.json")).StatusCode);
    }
}
