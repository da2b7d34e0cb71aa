using Keybrake.Domain.Common;
using Keybrake.Domain.Proxy;
using Xunit.Abstractions;

namespace Keybrake.Domain.Tests.Proxy;

/// <summary>
/// docs/design.md §3 step 3's normalization: percent-decode once; refuse <c>%2F</c>, <c>%5C</c>, backslashes,
/// <c>.</c>/<c>..</c> segments, empty segments, NUL and control characters (400, never forwarded).
/// </summary>
public sealed class PathNormalizerTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("/v1/charges", new[] { "v1", "charges" })]
    [InlineData("/v1/customers/cus%201", new[] { "v1", "customers", "cus 1" })]
    [InlineData("/v1/a%2541", new[] { "v1", "a%41" })] // decoded once: %25 is '%', and what follows stays as it is
    [InlineData("/v1/a%252F", new[] { "v1", "a%2F" })] // an escaped escape is text, not a slash
    [InlineData("/emails/%E2%82%AC", new[] { "emails", "\u20AC" })]
    [InlineData("/v1/.well-known", new[] { "v1", ".well-known" })]
    [InlineData("/v1/...", new[] { "v1", "..." })]
    [InlineData("/x", new[] { "x" })]
    public void APath_IsSplitIntoDecodedSegments(string raw, string[] segments) => Assert.Equal(segments, PathNormalizer.Normalize(raw));

    [Theory]
    [InlineData("")]
    [InlineData("/")]
    [InlineData("v1/charges")] // no leading '/'
    [InlineData("/v1//charges")]
    [InlineData("/v1/charges/")] // a trailing '/' is an empty segment
    [InlineData("/v1/./charges")]
    [InlineData("/v1/../admin")]
    [InlineData("/v1/%2e%2e/admin")] // '..' once decoded
    [InlineData("/v1/%2E/x")]
    [InlineData("/v1/a%2Fb")] // an encoded slash: two segments to one parser, one to another
    [InlineData("/v1/a%2fb")]
    [InlineData("/v1/a%5Cb")]
    [InlineData("/v1/a%5cb")]
    [InlineData("/v1\\charges")]
    [InlineData("/v1/a%00b")]
    [InlineData("/v1/a%0Ab")]
    [InlineData("/v1/a%0D%0AHost:x")]
    [InlineData("/v1/a%7Fb")]
    [InlineData("/v1/a\tb")]
    public void AnAmbiguousPath_IsRefusedBeforeForwarding(string raw)
    {
        KeybrakeException refused = Assert.Throws<KeybrakeException>(() => PathNormalizer.Normalize(raw));

        Assert.Equal((ErrorKind.Validation, "invalid_path"), (refused.Kind, refused.Code));
    }

    [Fact]
    public void APath_IsBoundedAt2048Characters()
    {
        string longest = "/" + new string('a', PathNormalizer.MaxLength - 1);

        Assert.Single(PathNormalizer.Normalize(longest));
        Assert.Throws<KeybrakeException>(() => PathNormalizer.Normalize(longest + "a"));
    }

    [Theory]
    [InlineData(new[] { "v1", "charges" }, "/v1/charges")]
    [InlineData(new[] { "v1", "cus 1" }, "/v1/cus%201")]
    [InlineData(new[] { "a/b" }, "/a%2Fb")] // a segment stays one segment upstream
    [InlineData(new[] { "a?b#c" }, "/a%3Fb%23c")] // never a query or a fragment upstream
    public void Segments_AreReEncodedOneByOneForTheUpstreamRequest(string[] segments, string encoded) =>
        Assert.Equal(encoded, PathNormalizer.Encode(segments));

    /// <summary>
    /// What the proxy forwards is what it checked: any segments it accepts, encoded for upstream, read back as
    /// the same segments. Set KEYBRAKE_TEST_SEED to replay a printed seed.
    /// </summary>
    [Fact]
    public void GeneratedSegments_SurviveEncodingAndNormalizingUnchanged()
    {
        int seed = Generated.RequestShapes.Seed();
        output.WriteLine($"seed {seed} (KEYBRAKE_TEST_SEED={seed} replays it)");
        var rng = new Random(seed);
        const string alphabet = "aZ09-_.~ %+?#&=:;@!$'()*,[]{}|^`\"<>\u00E9\u20AC\u0436";
        for (int i = 0; i < 5_000; i++)
        {
            string[] segments = [.. Enumerable.Range(0, rng.Next(1, 6)).Select(_ => new string([.. Enumerable.Range(0, rng.Next(1, 12)).Select(_ => alphabet[rng.Next(alphabet.Length)])]))];
            if (segments.Any(s => s is "." or ".."))
            {
                continue;
            }

            string encoded = PathNormalizer.Encode(segments);
            Assert.True(segments.SequenceEqual(PathNormalizer.Normalize(encoded)), $"case {i} of seed {seed}: {string.Join(" | ", segments)} -> {encoded}");
        }
    }
}
