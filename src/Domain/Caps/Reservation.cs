namespace Keybrake.Domain.Caps;

/// <summary>
/// One spend counter a call reserves against: a key's daily cap or a budget's daily or monthly
/// amount. Counters live in table partitions so that most of them share the audit row's partition
/// (tenant and day) and can be written in the same entity-group transaction as the audit intent.
/// A budget's counters carry the budget, so crossing one of its alert thresholds can be told without a read.
/// </summary>
public sealed record CapCounter(string Partition, string Row, long LimitMicros, string Description, Budget? Budget = null, bool Monthly = false)
{
    public CounterRef Ref => new(Partition, Row);
}

/// <summary>
/// Where a counter lives: what an audit row records of each counter its reservation moved, so settlement and release
/// adjust exactly those, whatever budgets exist by then.
/// </summary>
public sealed record CounterRef(string Partition, string Row);

/// <summary>The loop breaker's window for one key, method, path and body.</summary>
public sealed record LoopGuard(string Partition, string Row, int MaxCalls, TimeSpan Window);

/// <summary>What a call reserves before it is forwarded.</summary>
public sealed record Reservation(long AmountMicros, IReadOnlyList<CapCounter> Counters, string? IdempotencyRow, LoopGuard? Loop)
{
    public static Reservation None { get; } = new(0, [], null, null);

    /// <summary>
    /// How long a vendor answers a retry from its first call (Stripe's window, and Resend's, is 24 h). The marker of a
    /// call sits in its own day's partition, so a retry on the next UTC day looks there too, back this far.
    /// </summary>
    public static TimeSpan IdempotencyWindow { get; } = TimeSpan.FromHours(24);
}

public enum BeginStatus
{
    /// <summary>Intent written and budget reserved: forward.</summary>
    Reserved,

    /// <summary>The Idempotency-Key was seen before: intent written, nothing reserved; forward (the vendor replays).</summary>
    Replay,

    CapExceeded,

    LoopDetected,
}

public sealed record BeginResult(BeginStatus Status, CapCounter? Exceeded = null, long UsedMicros = 0)
{
    /// <summary>When reserved: each counter with the value this reservation wrote.</summary>
    public IReadOnlyList<(CapCounter Counter, long Used)> Reserved { get; init; } = [];
}
