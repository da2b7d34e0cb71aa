using Keybrake.Domain.Common;
using Keybrake.Domain.Policy;

namespace Keybrake.Tests.Domain;

public sealed class EndpointPatternTests
{
    [Theory]
    [InlineData("POST /v1/refunds", "POST", "/v1/refunds", true)]
    [InlineData("POST /v1/refunds", "GET", "/v1/refunds", false)]
    [InlineData("/v1/refunds", "GET", "/v1/refunds", true)]
    [InlineData("post /v1/refunds", "POST", "/v1/refunds", true)]
    [InlineData("GET /v1/customers/*", "GET", "/v1/customers/cus_1", true)]
    [InlineData("GET /v1/customers/*", "GET", "/v1/customers", false)]
    [InlineData("GET /v1/customers/*", "GET", "/v1/customers/cus_1/sources", false)]
    [InlineData("GET /v1/**", "GET", "/v1", true)]
    [InlineData("GET /v1/**", "GET", "/v1/a/b/c", true)]
    [InlineData("/v1/**/refunds", "POST", "/v1/refunds", true)]
    [InlineData("/v1/**/refunds", "POST", "/v1/charges/ch_1/refunds", true)]
    [InlineData("/v1/**/refunds", "POST", "/v1/charges/ch_1/refunds/re_1", false)]
    [InlineData("/2010-04-01/Accounts/*/Messages", "POST", "/2010-04-01/Accounts/AC1/Messages", true)]
    [InlineData("/v1/Refunds", "POST", "/v1/refunds", false)]
    public void Matches(string pattern, string method, string path, bool expected) =>
        Assert.Equal(expected, EndpointPattern.Parse(pattern).Matches(method, path.Split('/', StringSplitOptions.RemoveEmptyEntries)));

    [Theory]
    [InlineData("")]
    [InlineData("v1/refunds")]
    [InlineData("FETCH /v1/refunds")]
    [InlineData("/v1//refunds")]
    [InlineData("/v1/../admin")]
    [InlineData("/v1/ref*")]
    [InlineData("/v1/refunds?x=1")]
    public void Parse_RejectsMalformedPatterns(string pattern) =>
        Assert.Throws<KeybrakeException>(() => EndpointPattern.Parse(pattern));
}
