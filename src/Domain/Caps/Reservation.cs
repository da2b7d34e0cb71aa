namespace Keybrake.Domain.Caps;

/// <summary>
/// One spend counter a call reserves against: a key's daily cap or a budget's daily or monthly
/// amount. Counters live in table partitions so that most of them share the audit row's partition
/// (tenant and day) and can be written in the same entity-group transaction as the audit intent.
/// A budget's counters carry the budget, so crossing one of its alert thresholds can be told without a read.
/// </summary>
public sealed record CapCounter(string Partition, string Row, long LimitMicros, string Description, Budget? Budget = null, bool Monthly = false);

/// <summary>The loop breaker's window for one key, method, path and body.</summary>
public sealed record LoopGuard(string Partition, string Row, int MaxCalls, TimeSpan Window);

/// <summary>What a call reserves before it is forwarded.</summary>
public sealed record Reservation(long AmountMicros, IReadOnlyList<CapCounter> Counters, string? IdempotencyRow, LoopGuard? Loop)
{
    public static Reservation None { get; } = new(0, [], null, null);
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
