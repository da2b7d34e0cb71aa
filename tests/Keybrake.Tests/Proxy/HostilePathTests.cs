using System.Text.Json;
using Azure.Data.Tables;
using Keybrake.Functions.Proxy;
using Keybrake.Sandbox;
using Keybrake.Tests.Support;

namespace Keybrake.Tests.Proxy;

/// <summary>
/// Paths and request targets written to confuse parsers, sent raw so HttpClient cannot tidy them up.
/// Ground truth is the fake vendor's ledger: a refused path never reaches it, and nothing ever reaches
/// any host but the configured one (a second, "evil" fake Stripe listens for strays).
/// </summary>
public sealed class HostilePathTests(HostilePathTests.Hosts hosts) : IClassFixture<HostilePathTests.Hosts>, IAsyncLifetime
{
    private ProxyHost _proxy = null!;
    private FakeStripe _evil = null!;

    public async Task InitializeAsync()
    {
        _proxy = await hosts.ResetAsync();
        _evil = hosts.Evil;
        _evil.Reset();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>The proxy shared by these tests, and the evil fake beside it.</summary>
    public sealed class Hosts : SharedProxyHostForAcmesOwnAccounts
    {
        public FakeStripe Evil { get; private set; } = null!;

        protected override async Task<ProxyHost> StartAsync(FakeVendors vendors)
        {
            Evil ??= await FakeStripe.StartAsync();
            return await base.StartAsync(vendors);
        }

        public override async Task DisposeAsync()
        {
            await base.DisposeAsync();
            await Evil.DisposeAsync();
        }
    }

    private FakeStripe Fake => _proxy.Vendors.Stripe;

    private string EvilAuthority => _evil.BaseUrl.Authority;

    private string ProxyAuthority => _proxy.Host.BaseAddress.Authority;

    /// <summary>Paths after /proxy/stripe that the proxy itself must refuse with its own 400.</summary>
    public static TheoryData<string, string> RefusedByTheProxy() => new()
    {
        { "encoded slash", "/v1/customers%2Fcus_1" },
        { "encoded slash, lower case", "/v1/customers%2fcus_1" },
        { "encoded backslash", "/v1/customers%5Ccus_1" },
        { "encoded backslash, lower case", "/v1/customers%5ccus_1" },
        { "literal backslash", "/v1/customers\\cus_1" },
        { "dot segment", "/v1/./customers/cus_1" },
        { "dot-dot segment", "/v1/customers/../customers/cus_1" },
        { "dot-dot climbing out of the vendor", "/../stripe/v1/customers/cus_1" },
        { "encoded dot-dot", "/v1/%2e%2e/v1/customers/cus_1" },
        { "encoded dot-dot, mixed case", "/v1/%2E%2e/v1/customers/cus_1" },
        { "encoded dot", "/v1/%2e/customers/cus_1" },
        { "empty segment", "/v1//customers/cus_1" },
        { "trailing slash", "/v1/customers/cus_1/" },
        { "bare vendor prefix", "/" },
        { "encoded line feed", "/v1/customers/cus%0a_1" },
        { "encoded carriage return", "/v1/customers/cus%0D_1" },
        { "encoded control character", "/v1/customers/cus%01_1" },
        { "encoded DEL", "/v1/customers/cus%7F_1" },
        { "raw control character", "/v1/customers/cus\u0001_1" },
        { "raw DEL", "/v1/customers/cus\u007f_1" },
        { "path over 2 KB", "/v1/customers/" + new string('a', 2100) },
    };

    [Theory]
    [MemberData(nameof(RefusedByTheProxy))]
    public async Task HostilePath_Is400InStripesShape_AndNeverForwarded(string scenario, string path)
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:paths:run-1", "stripe", "/v1/**");

        (int status, string response) = await RawHttp.SendAsync(_proxy.Host.BaseAddress, "GET", "/proxy/stripe" + path, Bearer(key));

        Assert.True(status == 400, $"{scenario}: {response}");
        JsonElement error = StripeError(response);
        Assert.Equal("keybrake_invalid_path", error.Str("code"));
        Assert.Equal("invalid_request_error", error.Str("type"));
        Assert.Empty(Fake.Ledger);
        TableEntity row = Assert.Single(await _proxy.AuditRowsAsync());
        Assert.Equal(("denied", "invalid_path", 400), (row.GetString("Outcome"), row.GetString("Reason"), row.GetInt32("Status")));
    }

    /// <summary>Kestrel refuses these before any application code runs: a plain 400, and nothing forwarded.</summary>
    [Theory]
    [InlineData("encoded NUL", "/v1/customers/cus%00_1")]
    [InlineData("raw space", "/v1/customers/cus 1")]
    public async Task PathKestrelRefuses_Is400_AndNeverForwarded(string scenario, string path)
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:paths:run-2", "stripe", "/v1/**");

        (int status, string response) = await RawHttp.SendAsync(_proxy.Host.BaseAddress, "GET", "/proxy/stripe" + path, Bearer(key));

        Assert.True(status == 400, $"{scenario}: {response}");
        Assert.Empty(Fake.Ledger);
    }

    [Fact]
    public async Task DoubleEncodedSlash_IsDecodedExactlyOnce_AndForwardedStillEncoded()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:paths:run-3", "stripe", "GET /v1/customers/*");

        (int status, string response) = await RawHttp.SendAsync(_proxy.Host.BaseAddress, "GET", "/proxy/stripe/v1/customers/cus%252F..%252Fbalance", Bearer(key));

        // One decode gives the literal text "cus%2F..%2Fbalance": one segment, re-encoded for the vendor.
        Assert.True(status == 404, response);
        Assert.Equal("/v1/customers/cus%252F..%252Fbalance", Assert.Single(Fake.Ledger).Path);
    }

    [Fact]
    public async Task AbsoluteFormTarget_NamingAnotherHost_GoesOnlyToTheConfiguredVendor()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:hosts:run-1", "stripe", "/**");

        RawExchange.Reply withItsHost = await SendAsync(
            $"GET http://{EvilAuthority}/proxy/stripe/v1/customers/cus_1 HTTP/1.1", EvilAuthority, key);
        RawExchange.Reply withOurHost = await SendAsync(
            $"GET http://{EvilAuthority}/proxy/stripe/v1/customers/cus_1 HTTP/1.1", ProxyAuthority, key);

        // Kestrel refuses an absolute-form target whose authority differs from Host; one that matches reaches
        // the proxy, which may serve it (today) or refuse it. Either way only the configured vendor is called.
        Assert.Equal(400, withOurHost.Status);
        Assert.True(withItsHost.Status is 200 or 400, withItsHost.Raw);
        AssertOnlyTheConfiguredVendorWasCalled("/v1/customers/cus_1");
        Assert.True(Fake.Ledger.Count == (withItsHost.Status == 200 ? 1 : 0));
    }

    [Theory]
    [InlineData("encoded backslash", "/v1/customers%5Ccus_1")]
    [InlineData("empty segment", "/v1//customers/cus_1")]
    [InlineData("trailing slash", "/v1/customers/cus_1/")]
    [InlineData("encoded line feed", "/v1/customers/cus%0a_1")]
    public async Task AbsoluteFormTarget_WithHostilePathThatSurvivesKestrel_Is400AndNotForwarded(string scenario, string path) =>
        await AssertAbsoluteFormRefusedAsync(scenario, path);

    [Theory]
    [InlineData("encoded slash", "/v1/customers%2Fcus_1")]
    [InlineData("dot-dot", "/v1/../v1/customers/cus_1")]
    [InlineData("encoded dot-dot", "/v1/%2e%2e/v1/customers/cus_1")]
    [InlineData("dot", "/v1/./customers/cus_1")]
    public async Task AbsoluteFormTarget_WithHostilePathKestrelNormalises_Is400AndNotForwarded(string scenario, string path) =>
        await AssertAbsoluteFormRefusedAsync(scenario, path);

    [Theory]
    [InlineData("userinfo before the path", "/@{evil}/v1/customers/cus_1", "/%40{evil-escaped}/v1/customers/cus_1")]
    [InlineData("userinfo in the last segment", "/v1/customers/x@{evil}", "/v1/customers/x%40{evil-escaped}")]
    [InlineData("authority as a segment", "/{evil}/v1/customers/cus_1", "/{evil-escaped}/v1/customers/cus_1")]
    [InlineData("encoded question mark then userinfo", "/v1/customers/cus_1%3F@{evil}", "/v1/customers/cus_1%3F%40{evil-escaped}")]
    [InlineData("encoded hash then userinfo", "/v1/customers/cus_1%23@{evil}", "/v1/customers/cus_1%23%40{evil-escaped}")]
    [InlineData("path parameter with userinfo", "/v1/customers/cus_1;@{evil}", "/v1/customers/cus_1%3B%40{evil-escaped}")]
    public async Task HostTricksInThePath_StayInsideTheConfiguredVendor(string scenario, string path, string forwarded)
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:hosts:run-3", "stripe", "/**");

        (int status, string response) = await RawHttp.SendAsync(_proxy.Host.BaseAddress, "GET", "/proxy/stripe" + Evil(path), Bearer(key));

        Assert.True(status is 200 or 404, $"{scenario}: {response}");
        AssertOnlyTheConfiguredVendorWasCalled(Evil(forwarded));
        Assert.Single(Fake.Ledger);
    }

    [Theory]
    [InlineData("encoded double slash", "/%2F%2F{evil}/v1/customers/cus_1")]
    [InlineData("encoded double slash, lower case", "/%2f%2f{evil}/v1/customers/cus_1")]
    [InlineData("scheme and encoded slashes", "/http:%2F%2F{evil}/v1/customers/cus_1")]
    [InlineData("double slash", "//{evil}/v1/customers/cus_1")]
    [InlineData("scheme and double slash", "/http://{evil}/v1/customers/cus_1")]
    [InlineData("encoded backslashes", "/%5C%5C{evil}/v1/customers/cus_1")]
    public async Task EncodedHostTricks_AreRefusedAndNothingIsSent(string scenario, string path)
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:hosts:run-4", "stripe", "/**");

        (int status, string response) = await RawHttp.SendAsync(_proxy.Host.BaseAddress, "GET", "/proxy/stripe" + Evil(path), Bearer(key));

        Assert.True(status == 400, $"{scenario}: {response}");
        Assert.Equal("keybrake_invalid_path", StripeError(response).Str("code"));
        Assert.Empty(Fake.Ledger);
        Assert.Empty(_evil.Ledger);
    }

    [Fact]
    public async Task QueryNamingAnotherHost_IsPassedAsAQuery_ToTheConfiguredVendor()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:hosts:run-5", "stripe", "/**");

        (int status, string response) = await RawHttp.SendAsync(
            _proxy.Host.BaseAddress, "GET", $"/proxy/stripe/v1/customers/cus_1?next=http://{EvilAuthority}/x&u=@{EvilAuthority}", Bearer(key));

        Assert.True(status == 200, response);
        AssertOnlyTheConfiguredVendorWasCalled("/v1/customers/cus_1");
        Assert.Equal($"?next=http://{EvilAuthority}/x&u=@{EvilAuthority}", Assert.Single(Fake.Ledger).Query);
    }

    [Fact]
    public async Task HostAndForwardedHeaders_NamingAnotherHost_AreIgnored()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:hosts:run-6", "stripe", "/**");
        (string, string) auth = ("Authorization", "Bearer " + key.Str("key"));

        RawExchange.Reply foreignHost = await RawExchange.SendAsync(_proxy.Host.BaseAddress,
            "GET /proxy/stripe/v1/customers/cus_1 HTTP/1.1", [("Host", EvilAuthority), auth, ("Connection", "close")]);
        RawExchange.Reply forwardedHost = await RawExchange.SendAsync(_proxy.Host.BaseAddress,
            "GET /proxy/stripe/v1/customers/cus_2 HTTP/1.1",
            [
                ("Host", ProxyAuthority), auth, ("X-Forwarded-Host", EvilAuthority), ("X-Forwarded-Proto", "http"),
                ("X-Forwarded-Port", _evil.BaseUrl.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                ("Forwarded", $"host={EvilAuthority};proto=http"), ("X-Original-Host", EvilAuthority), ("Connection", "close"),
            ]);

        Assert.Equal(200, foreignHost.Status);
        Assert.Equal(200, forwardedHost.Status);
        Assert.Empty(_evil.Ledger);
        Assert.Equal(["/v1/customers/cus_1", "/v1/customers/cus_2"], Fake.Ledger.Select(e => e.Path));
        Assert.All(Fake.Ledger, entry =>
        {
            Assert.Equal(Fake.BaseUrl.Authority, entry.Headers["Host"]);
            Assert.DoesNotContain(entry.Headers, h => h.Value.Contains(EvilAuthority, StringComparison.Ordinal));
        });
    }

    [Theory]
    [InlineData("http://127.0.0.1:5555")]
    [InlineData("http://127.0.0.1:5555/")]
    [InlineData("https://api.stripe.com")]
    [InlineData("http://127.0.0.1:5555/prefix/")]
    public void UpstreamUri_WithHostileSegments_KeepsTheBaseSchemeHostAndPort(string baseUrl)
    {
        var baseUri = new Uri(baseUrl);
        string basePath = baseUri.AbsolutePath.TrimEnd('/');
        string[][] hostile =
        [
            ["@evil.example"], ["@evil.example", "v1"], ["//evil"], ["evil.example:80"], ["%2F"], ["%2F%2Fevil.example"],
            ["\\\\evil.example"], ["..", "..", "evil"], ["?x=@evil.example"], ["#@evil.example"], ["user:pass@evil.example:80", "x"],
            ["http://evil.example"], [":80"], ["\u0000evil"], ["v1", "customers", "x@evil.example"],
        ];

        foreach (string[] segments in hostile)
        {
            Uri target = VendorHttp.UpstreamUri(baseUri, segments, "?q=@evil.example:80#@evil.example");

            string shown = string.Join(" | ", segments) + " -> " + target;
            Assert.True(target.Scheme == baseUri.Scheme, shown);
            Assert.True(target.Host == baseUri.Host, shown);
            Assert.True(target.Port == baseUri.Port, shown);
            Assert.True(target.UserInfo.Length == 0, shown);
            if (!segments.Contains(".."))
            {
                // Dot segments never get here (PathNormalizer refuses them); every other segment stays one segment.
                Assert.True(target.AbsolutePath.StartsWith(basePath + "/", StringComparison.Ordinal), shown);
                Assert.True(segments.Length == target.AbsolutePath[basePath.Length..].Count(c => c == '/'), shown);
            }
        }

        Assert.Equal(basePath + "/%40evil.example", VendorHttp.UpstreamUri(baseUri, ["@evil.example"], null).AbsolutePath);
        Assert.Equal(basePath + "/%252F", VendorHttp.UpstreamUri(baseUri, ["%2F"], null).AbsolutePath);
    }

    private async Task AssertAbsoluteFormRefusedAsync(string scenario, string path)
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:hosts:run-2", "stripe", "/**");

        RawExchange.Reply reply = await SendAsync($"GET http://{ProxyAuthority}/proxy/stripe{path} HTTP/1.1", ProxyAuthority, key);

        Assert.True(reply.Status == 400, $"{scenario}: {reply.Status} {reply.Body}; forwarded: {string.Join(", ", Fake.Ledger.Select(e => e.Path))}");
        Assert.Empty(Fake.Ledger);
    }

    private static Dictionary<string, string> Bearer(JsonElement key) => new() { ["Authorization"] = "Bearer " + key.Str("key") };

    private Task<RawExchange.Reply> SendAsync(string requestLine, string host, JsonElement key) =>
        RawExchange.SendAsync(_proxy.Host.BaseAddress, requestLine, [("Host", host), ("Authorization", "Bearer " + key.Str("key")), ("Connection", "close")]);

    private string Evil(string template) => template
        .Replace("{evil-escaped}", Uri.EscapeDataString(EvilAuthority), StringComparison.Ordinal)
        .Replace("{evil}", EvilAuthority, StringComparison.Ordinal);

    private void AssertOnlyTheConfiguredVendorWasCalled(string expectedPath)
    {
        Assert.Empty(_evil.Ledger);
        Assert.All(Fake.Ledger, entry => Assert.Equal(expectedPath, entry.Path));
    }

    private static JsonElement StripeError(string response)
    {
        string body = response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];

        // RawHttp returns the body as sent; a chunked body is one chunk here, between its size line and the terminator.
        int open = body.IndexOf('{', StringComparison.Ordinal);
        int close = body.LastIndexOf('}');
        Assert.True(open >= 0 && close > open, "No JSON body in: " + response);
        return JsonDocument.Parse(body[open..(close + 1)]).RootElement.GetProperty("error").Clone();
    }
}
