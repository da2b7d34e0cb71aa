using Keybrake.Domain.Common;
using Keybrake.Domain.Policy;
using Keybrake.Domain.Pricing;
using Keybrake.Domain.Vendors;
using Xunit.Abstractions;

namespace Keybrake.Domain.Tests.Policy;

/// <summary>
/// The allowlist grammar (docs/design.md §2): an optional method prefix; <c>*</c> matches exactly one path segment;
/// <c>**</c> matches zero or more; query strings are never part of a pattern.
/// </summary>
public sealed class EndpointPatternTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("POST /v1/refunds", "POST", "v1/refunds", true)]
    [InlineData("POST /v1/refunds", "post", "v1/refunds", true)] // methods are case-insensitive
    [InlineData("post /v1/refunds", "POST", "v1/refunds", true)]
    [InlineData("POST /v1/refunds", "GET", "v1/refunds", false)]
    [InlineData("POST /v1/refunds", "POST", "v1/refunds/re_1", false)]
    [InlineData("POST /v1/refunds", "POST", "v1", false)]
    [InlineData("/v1/refunds", "DELETE", "v1/refunds", true)] // no method: any method
    [InlineData("/v1/Refunds", "GET", "v1/refunds", false)] // paths are case-sensitive
    [InlineData("/v1/customers/*", "GET", "v1/customers/cus_1", true)]
    [InlineData("/v1/customers/*", "GET", "v1/customers", false)] // '*' is exactly one segment
    [InlineData("/v1/customers/*", "GET", "v1/customers/cus_1/sources", false)]
    [InlineData("/v1/*/pay", "POST", "v1/invoices/pay", true)]
    [InlineData("/v1/**", "GET", "v1", true)] // '**' is zero or more
    [InlineData("/v1/**", "GET", "v1/a", true)]
    [InlineData("/v1/**", "GET", "v1/a/b/c", true)]
    [InlineData("/v1/**", "GET", "v2/a", false)]
    [InlineData("/v1/**/pay", "POST", "v1/pay", true)]
    [InlineData("/v1/**/pay", "POST", "v1/invoices/in_1/pay", true)]
    [InlineData("/v1/**/pay", "POST", "v1/invoices/in_1/pay/x", false)]
    [InlineData("/**/pay/**", "POST", "a/pay/b/pay", true)]
    [InlineData("/**", "GET", "anything/at/all", true)]
    [InlineData("/", "GET", "v1", false)]
    [InlineData("GET /v1/*/*", "GET", "v1/a/b", true)]
    [InlineData("GET /v1/*/*", "GET", "v1/a", false)]
    public void APattern_MatchesByMethodAndSegments(string pattern, string method, string path, bool matches) =>
        Assert.Equal(matches, EndpointPattern.Parse(pattern).Matches(method, path.Split('/')));

    [Theory]
    [InlineData("POST /v1/refunds", "POST", "POST /v1/refunds")]
    [InlineData("  patch   /v1/x  ", "PATCH", "PATCH /v1/x")]
    [InlineData("/v1/**", null, "/v1/**")]
    public void APattern_IsKeptInOneCanonicalSpelling(string text, string? method, string canonical)
    {
        EndpointPattern pattern = EndpointPattern.Parse(text);

        Assert.Equal((method, canonical), (pattern.Method, pattern.Text));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("v1/refunds")] // no leading '/'
    [InlineData("FETCH /v1/refunds")]
    [InlineData("POST v1/refunds")]
    [InlineData("/v1/refunds?amount=1")] // queries are never part of a match
    [InlineData("/v1/refunds#x")]
    [InlineData("POST /v1/a b")]
    [InlineData("/v1//refunds")]
    [InlineData("/v1/refunds/")]
    [InlineData("/v1/./refunds")]
    [InlineData("/v1/../refunds")]
    [InlineData("/v1/re*")] // a wildcard stands for whole segments only
    [InlineData("/v1/***")]
    [InlineData("/v1\\refunds")]
    [InlineData("/v1/r\u00E9funds")]
    public void AnInvalidPattern_IsRefusedAtIssue(string? text) =>
        Assert.Equal(ErrorKind.Validation, Assert.Throws<KeybrakeException>(() => EndpointPattern.Parse(text)).Kind);

    [Fact]
    public void APattern_IsBoundedAt512Characters()
    {
        string longest = "/" + new string('a', EndpointPattern.MaxLength - 1);

        Assert.True(EndpointPattern.Parse(longest).Matches("GET", [longest[1..]]));
        Assert.Throws<KeybrakeException>(() => EndpointPattern.Parse(longest + "a"));
    }

    [Theory]
    [InlineData("POST", "2010-04-01/Accounts/AC1/Messages.json", true)]
    [InlineData("POST", "2010-04-01/Accounts/AC1/Messages.xml", true)]
    [InlineData("POST", "2010-04-01/Accounts/AC1/Messages", true)]
    [InlineData("POST", "2010-04-01/Accounts/AC1/Messages/SM1.json", false)]
    [InlineData("POST", "2010-04-01/Accounts/AC1/Calls.json", false)]
    public void TheSeedsTwilioPattern_AllowsTheSdksFormatSuffix(string method, string path, bool allowed)
    {
        // docs/design.md §3 step 3: '/2010-04-01/Accounts/*/Messages' allows the SDK's '.../Messages.json'.
        var twilio = new TwilioVendor(new PricingOptions());

        Assert.Equal(allowed, EndpointPattern.Parse("POST /2010-04-01/Accounts/*/Messages").Matches(method, twilio.MatchSegments(path.Split('/'))));
    }

    /// <summary>
    /// Generated paths against patterns built from them: the literal pattern matches only its own path; with one
    /// segment made '*' it still matches, and no path of another length; '/**' matches all. Seeded.
    /// </summary>
    [Fact]
    public void GeneratedPaths_MatchThePatternsBuiltFromThem()
    {
        int seed = Generated.RequestShapes.Seed();
        output.WriteLine($"seed {seed} (KEYBRAKE_TEST_SEED={seed} replays it)");
        var rng = new Random(seed);
        EndpointPattern everything = EndpointPattern.Parse("/**");
        for (int i = 0; i < 3_000; i++)
        {
            string[] path = [.. Enumerable.Range(0, rng.Next(1, 6)).Select(_ => "s" + rng.Next(4))];
            string[] other = [.. Enumerable.Range(0, rng.Next(1, 6)).Select(_ => "s" + rng.Next(4))];
            string[] starred = [.. path];
            starred[rng.Next(starred.Length)] = "*";
            EndpointPattern literal = EndpointPattern.Parse("/" + string.Join('/', path));
            EndpointPattern wild = EndpointPattern.Parse("/" + string.Join('/', starred));
            string where = $"case {i} of seed {seed}: {string.Join('/', path)} vs {string.Join('/', other)}";

            Assert.True(literal.Matches("GET", path) && wild.Matches("GET", path) && everything.Matches("GET", path), where);
            Assert.True(literal.Matches("GET", other) == path.SequenceEqual(other), where);
            Assert.True(!wild.Matches("GET", other) || other.Length == path.Length, where);
        }
    }
}
