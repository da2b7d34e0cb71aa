using Keybrake.Domain.Common;

namespace Keybrake.Domain.Tests.Common;

public sealed class QueryWindowTests
{
    private static readonly DateTimeOffset To = new(2026, 11, 2, 9, 30, 0, TimeSpan.Zero);

    [Fact]
    public void NinetyTwoDays_AreAllowed() => QueryWindow.Check(To.AddDays(-QueryWindow.MaxDays), To);

    [Theory]
    [InlineData(-92.0001)]
    [InlineData(0.0001)]
    public void LongerOrReversed_IsRefusedWithOneMessage(double days)
    {
        KeybrakeException e = Assert.Throws<KeybrakeException>(() => QueryWindow.Check(To.AddDays(days), To));

        Assert.Equal("since: must not be after until, and the window may span at most 92 days.", e.Message);
    }
}
