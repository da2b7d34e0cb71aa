using System.Text;
using Keybrake.Domain.Common;
using Keybrake.Domain.Vendors;

namespace Keybrake.Domain.Tests.Vendors;

public sealed class RequestParametersTests
{
    private const string Form = "application/x-www-form-urlencoded";

    [Fact]
    public void QueryAndBody_AreReadTogether_QueryFirst()
    {
        RequestParameters read = Read("?amount=100&currency=usd", "confirm=true&metadata%5Bnote%5D=a+b%20c");

        Assert.Equal(["amount", "currency", "confirm", "metadata[note]"], read.All.Select(p => p.Name));
        Assert.Equal("a b c", read.Last("metadata[note]"));
        Assert.Equal(ParameterPlace.Query, read.All[0].Place);
        Assert.Equal("100", read.Last("amount"));
    }

    [Fact]
    public void RepeatedInOnePlace_TheLastWins_AsStripeReadsIt()
    {
        Assert.Equal("5000", Read(null, "amount=1&amount=5000").Last("amount"));
        Assert.Equal("1", Read("?amount=5000&amount=1", null).Last("amount"));
    }

    [Theory]
    [InlineData("?amount=1", "amount=5000")]
    [InlineData("?amount=5000", "amount=5000")]
    public void GivenInBothPlaces_IsUnreadable(string query, string body) =>
        AssertUnreadable(() => Read(query, body).Last("amount"));

    [Theory]
    [InlineData("application/json")]
    [InlineData("text/plain")]
    [InlineData("multipart/form-data; boundary=x")]
    [InlineData("application/x-www-form-urlencoded; charset=iso-8859-1")]
    [InlineData("application/x-www-form-urlencoded; charset=utf-16")]
    [InlineData(null)]
    public void ABodyOfAnotherContentTypeOrCharset_IsUnreadable(string? contentType) =>
        AssertUnreadable(() => RequestParameters.Read(null, contentType, null, "amount=100"u8));

    [Theory]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("Application/X-WWW-Form-Urlencoded")]
    [InlineData("application/x-www-form-urlencoded; charset=utf-8")]
    [InlineData("application/x-www-form-urlencoded;charset=\"UTF-8\"")]
    public void FormBodiesInUtf8_AreRead(string contentType) =>
        Assert.Equal("100", RequestParameters.Read(null, contentType, null, "amount=100"u8).Last("amount"));

    [Fact]
    public void AnEmptyBody_NeedsNoContentType() =>
        Assert.Equal("100", RequestParameters.Read("?amount=100", null, null, ReadOnlySpan<byte>.Empty).Last("amount"));

    [Theory]
    [InlineData("gzip")]
    [InlineData("deflate")]
    [InlineData("br")]
    public void AContentEncoding_IsUnreadable(string encoding) =>
        AssertUnreadable(() => RequestParameters.Read(null, Form, encoding, "amount=100"u8));

    [Fact]
    public void TheIdentityEncoding_IsRead() =>
        Assert.Equal("100", RequestParameters.Read(null, Form, "identity", "amount=100"u8).Last("amount"));

    [Fact]
    public void AByteOrderMark_IsUnreadable() =>
        AssertUnreadable(() => RequestParameters.Read(null, Form, null, [0xEF, 0xBB, 0xBF, .. "amount=100"u8]));

    [Fact]
    public void RawBytesThatAreNotUtf8_AreUnreadable() =>
        AssertUnreadable(() => RequestParameters.Read(null, Form, null, [.. "amount=100&metadata[x]="u8, 0xFF]));

    [Theory]
    [InlineData("metadata%5Bx%5D=%FF")]
    [InlineData("metadata%5Bx%5D=%C3")]
    [InlineData("amount=%")]
    [InlineData("amount=%G1")]
    public void EscapesThatAreNotUtf8OrMalformed_AreUnreadable(string body) => AssertUnreadable(() => Read(null, body));

    [Theory]
    [InlineData("currency=usd;amount=100")]
    [InlineData("currency=usd&%20amount=100")]
    [InlineData("currency=usd&+amount=100")]
    [InlineData("currency=usd&amount%00=100")]
    [InlineData("=100")]
    public void SeparatorsAndNamesOtherParsersReadDifferently_AreUnreadable(string body) => AssertUnreadable(() => Read(null, body));

    [Fact]
    public void MultiByteText_IsDecodedWhole() =>
        Assert.Equal("héllo 😀", Read(null, "Body=h%C3%A9llo+%F0%9F%98%80").Last("Body"));

    [Theory]
    [InlineData("0", 0)]
    [InlineData("100", 100)]
    [InlineData("999999999999999999", 999_999_999_999_999_999)]
    public void CanonicalAmounts_AreRead(string text, long expected) => Assert.Equal(expected, RequestParameters.Amount(text, "amount"));

    [Theory]
    [InlineData("+100")]
    [InlineData("-100")]
    [InlineData("0100")]
    [InlineData(" 100")]
    [InlineData("100 ")]
    [InlineData("100.0")]
    [InlineData("1e3")]
    [InlineData("1_000")]
    [InlineData("0x64")]
    [InlineData("１００")]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("1000000000000000000")]
    [InlineData("99999999999999999999999")]
    public void EveryOtherAmountForm_IsUnreadable(string? text) => AssertUnreadable(() => RequestParameters.Amount(text, "amount"));

    private static RequestParameters Read(string? query, string? body) =>
        RequestParameters.Read(query, body is null ? null : Form, null, body is null ? [] : Encoding.UTF8.GetBytes(body));

    internal static void AssertUnreadable(Action read)
    {
        KeybrakeException e = Assert.Throws<KeybrakeException>(read);
        Assert.Equal(RequestParameters.UnreadableCode, e.Code);
    }

    internal static void AssertUnreadable(Func<object?> read) => AssertUnreadable(() => { _ = read(); });
}
