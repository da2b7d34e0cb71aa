using Keybrake.Domain.Common;

namespace Keybrake.Domain.Tests.Common;

public sealed class DayPartitionsTests
{
    [Fact]
    public void Of_IsTheScopeAndTheUtcDate()
    {
        var at = new DateTimeOffset(2026, 11, 2, 23, 30, 0, TimeSpan.FromHours(-5));

        Assert.Equal("acme|2026-11-03", DayPartitions.Of("acme", at));
        Assert.Equal("acme|2026-11-03", DayPartitions.Of("acme", new DateOnly(2026, 11, 3)));
    }
}
