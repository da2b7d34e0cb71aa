namespace Keybrake.Sandbox.Tests;

internal static class Eventually
{
    /// <summary>Polls <paramref name="condition"/> until it holds, failing after 5 s.</summary>
    public static async Task True(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 5 s");
            await Task.Delay(20);
        }
    }
}
