namespace Keybrake.Functions.Proxy;

/// <summary>Configuration section <c>Proxy</c>.</summary>
public sealed class ProxyOptions
{
    /// <summary>
    /// The oldest a cached key record may be when it authorizes a call: revocation reaches every instance within
    /// this time. A key in use is re-read in the background at half of it, so warm calls never wait for the read.
    /// </summary>
    public int KeyCacheMilliseconds { get; set; } = 1000;

    /// <summary>How long budgets are cached; a budget change applies within this time.</summary>
    public int BudgetCacheMilliseconds { get; set; } = 5000;

    /// <summary>The loop breaker: at most this many identical non-read calls per key…</summary>
    public int LoopMaxCalls { get; set; } = 5;

    /// <summary>…within this many seconds.</summary>
    public int LoopWindowSeconds { get; set; } = 60;

    /// <summary>
    /// Comma-separated host names (e.g. a custom domain <c>stripe.example.com</c> mapped to this app) on which
    /// every <c>/v1/…</c> request is a Stripe call, whatever its credential. Empty: only the vault key decides.
    /// </summary>
    public string? StripeHostNames { get; set; }
}
