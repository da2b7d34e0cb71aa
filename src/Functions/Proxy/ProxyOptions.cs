namespace Keybrake.Functions.Proxy;

/// <summary>Configuration section <c>Proxy</c>.</summary>
public sealed class ProxyOptions
{
    /// <summary>How long a key record is cached; revocation reaches every instance within this time.</summary>
    public int KeyCacheMilliseconds { get; set; } = 1000;

    /// <summary>How long budgets are cached; a budget change applies within this time.</summary>
    public int BudgetCacheMilliseconds { get; set; } = 5000;

    /// <summary>The loop breaker: at most this many identical non-read calls per key…</summary>
    public int LoopMaxCalls { get; set; } = 5;

    /// <summary>…within this many seconds.</summary>
    public int LoopWindowSeconds { get; set; } = 60;
}
