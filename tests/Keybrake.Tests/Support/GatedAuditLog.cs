using Keybrake.Domain.Audit;
using Keybrake.Domain.Caps;

namespace Keybrake.Tests.Support;

/// <summary>
/// The real ledger (Azurite) with gates between its steps, so a test can hold one writer after its read while
/// another runs to the end: a deterministic interleaving, no sleeps. Gates do nothing until armed.
/// </summary>
public sealed class GatedAuditLog(IReservationLedger inner) : IReservationLedger
{
    /// <summary>Holds a caller after <see cref="GetAsync"/> has read its row (the operator's resolve reads this way).</summary>
    public StepGate AfterGet { get; } = new();

    /// <summary>Holds the reconciler after it has read a tenant-day's unsettled rows.</summary>
    public StepGate AfterUnsettled { get; } = new();

    public Task<BeginResult> BeginAsync(AuditEntry intent, Reservation reservation, CancellationToken cancellationToken) =>
        inner.BeginAsync(intent, reservation, cancellationToken);

    /// <summary>Holds the proxy after the vendor answered, before it records the outcome (a late answer).</summary>
    public StepGate BeforeComplete { get; } = new();

    public async Task CompleteAsync(AuditEntry outcome, Reservation reservation, long heldMicros, bool releaseIdempotencyKey, CancellationToken cancellationToken)
    {
        await BeforeComplete.PassAsync();
        await inner.CompleteAsync(outcome, reservation, heldMicros, releaseIdempotencyKey, cancellationToken);
    }

    public Task<AuditEntry?> TransitionAsync(string tenant, string id, Func<AuditEntry, (AuditEntry Outcome, long HeldMicros)?> decide, CancellationToken cancellationToken) =>
        inner.TransitionAsync(tenant, id, decide, cancellationToken);

    public Task<bool> ReplaysEarlierCallAsync(AuditEntry row, CancellationToken cancellationToken) => inner.ReplaysEarlierCallAsync(row, cancellationToken);

    public Task<LedgerDay> DayAsync(string tenant, DateTimeOffset day, CancellationToken cancellationToken) => inner.DayAsync(tenant, day, cancellationToken);

    public Task<IReadOnlyList<(CounterRef Counter, long Used)>> CountersAsync(string partition, CancellationToken cancellationToken) =>
        inner.CountersAsync(partition, cancellationToken);

    public Task RecordDenialAsync(AuditEntry denial, CancellationToken cancellationToken) => inner.RecordDenialAsync(denial, cancellationToken);

    public async Task<UnsettledDay> UnsettledAsync(string tenant, DateTimeOffset day, DateTimeOffset journalsWrittenBefore, CancellationToken cancellationToken)
    {
        UnsettledDay rows = await inner.UnsettledAsync(tenant, day, journalsWrittenBefore, cancellationToken);
        await AfterUnsettled.PassAsync();
        return rows;
    }

    public async Task<AuditEntry?> GetAsync(string tenant, string id, CancellationToken cancellationToken)
    {
        AuditEntry? row = await inner.GetAsync(tenant, id, cancellationToken);
        await AfterGet.PassAsync();
        return row;
    }

    public Task<long> UsedAsync(CapCounter counter, CancellationToken cancellationToken) => inner.UsedAsync(counter, cancellationToken);
}

/// <summary>
/// A point callers wait at once armed: <see cref="ArrivedAsync"/> completes when the expected number are waiting,
/// <see cref="Open"/> lets them all on (and disarms it).
/// </summary>
public sealed class StepGate
{
    private readonly Lock _lock = new();
    private TaskCompletionSource? _open;
    private TaskCompletionSource? _arrived;
    private int _expected;
    private int _waiting;

    public void Arm(int expected)
    {
        lock (_lock)
        {
            _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _expected = expected;
            _waiting = 0;
        }
    }

    /// <summary>Completes once the expected callers wait; the time limit only turns a broken test into a failure instead of a hang.</summary>
    public Task ArrivedAsync() => (_arrived ?? throw new InvalidOperationException("Not armed.")).Task.WaitAsync(TimeSpan.FromSeconds(60));

    public void Open()
    {
        lock (_lock)
        {
            _open?.TrySetResult();
            _open = null;
        }
    }

    internal Task PassAsync()
    {
        Task wait;
        lock (_lock)
        {
            if (_open is null || _waiting >= _expected)
            {
                return Task.CompletedTask;
            }

            wait = _open.Task;
            if (++_waiting == _expected)
            {
                _arrived!.TrySetResult();
            }
        }

        return wait;
    }
}
