using System.Collections.Concurrent;
using Keybrake.Domain.Caps;

namespace Keybrake.Domain.Audit;

/// <summary>
/// The reservation ledger in memory, for one process: the benchmark's CPU path (storage taken out) and the second
/// subject of the ledger contract suite, which runs the same tests against it and the table ledger so the two keep
/// the same semantics (a reservation refuses past a limit, an idempotency key replays and is counted once, the loop
/// breaker counts identical calls, settlement and release move exactly what the row recorded, a transition happens
/// once). Each partition has one lock, as each table partition has one entity-group transaction at a time; a call
/// over several partitions takes their locks in order. Nothing is ever half-done here, so there are no journals.
/// </summary>
public sealed class InMemoryReservationLedger : IReservationLedger
{
    private readonly ConcurrentDictionary<string, Partition> _partitions = new(StringComparer.Ordinal);

    public Task<BeginResult> BeginAsync(AuditEntry intent, Reservation reservation, CancellationToken cancellationToken)
    {
        List<CapCounter> counters = reservation.AmountMicros > 0 ? [.. reservation.Counters] : [];
        intent = intent with { Counters = [.. reservation.Counters.Select(c => c.Ref)], HeldMicros = counters.Count == 0 ? 0 : reservation.AmountMicros };
        using Locks held = Lock([.. counters.Select(c => c.Partition), intent.PartitionKey,
            .. reservation.IdempotencyRow is null ? [] : new[] { DayBefore(intent.PartitionKey, intent.Timestamp) }]);
        Partition primary = PartitionOf(intent.PartitionKey);
        string? marker = reservation.IdempotencyRow is null ? null : MarkerOf(intent.KeyId, intent.IdempotencyKey);
        if (marker is not null && (primary.Markers.ContainsKey(marker) || MarkedTheDayBefore(intent.PartitionKey, marker, intent.Timestamp)))
        {
            // Seen before: the vendor replays its first answer. Record this call, reserve nothing.
            primary.Rows[intent.Id] = intent with { Reason = "idempotent_replay", CostMicros = 0, Replay = true, Counters = [], HeldMicros = 0 };
            return Task.FromResult(new BeginResult(BeginStatus.Replay));
        }

        foreach (CapCounter counter in counters)
        {
            long used = PartitionOf(counter.Partition).Counters.GetValueOrDefault(counter.Row);
            if (used + reservation.AmountMicros > counter.LimitMicros)
            {
                return Task.FromResult(new BeginResult(BeginStatus.CapExceeded, counter, used));
            }
        }

        if (reservation.Loop is LoopGuard loop)
        {
            (bool tripped, string counted) = LoopWindow.Add(primary.Loops.GetValueOrDefault(loop.Row), intent.Timestamp, loop.Window, loop.MaxCalls);
            if (tripped)
            {
                return Task.FromResult(new BeginResult(BeginStatus.LoopDetected));
            }

            primary.Loops[loop.Row] = counted;
        }

        var reserved = new List<(CapCounter Counter, long Used)>();
        foreach (CapCounter counter in counters)
        {
            Dictionary<string, long> values = PartitionOf(counter.Partition).Counters;
            values[counter.Row] = values.GetValueOrDefault(counter.Row) + reservation.AmountMicros;
            reserved.Add((counter, values[counter.Row]));
        }

        if (marker is not null)
        {
            primary.Markers[marker] = intent.Timestamp;
        }

        primary.Rows[intent.Id] = intent;
        return Task.FromResult(new BeginResult(BeginStatus.Reserved) { Reserved = reserved });
    }

    public async Task CompleteAsync(AuditEntry outcome, Reservation reservation, long heldMicros, bool releaseIdempotencyKey, CancellationToken cancellationToken)
    {
        AuditEntry? written = await TransitionAsync(outcome.Tenant, outcome.Id, current => current.Outcome == AuditOutcome.InDoubt ? (outcome, heldMicros) : null, cancellationToken);
        if (written is not null && releaseIdempotencyKey && reservation.IdempotencyRow is not null && !outcome.Replay)
        {
            // The vendor refused outright and will not replay: a retry with this key is a new attempt.
            using Locks held = Lock([outcome.PartitionKey]);
            PartitionOf(outcome.PartitionKey).Markers.Remove(MarkerOf(outcome.KeyId, outcome.IdempotencyKey));
        }
    }

    public Task<AuditEntry?> TransitionAsync(string tenant, string id, Func<AuditEntry, (AuditEntry Outcome, long HeldMicros)?> decide, CancellationToken cancellationToken)
    {
        if (AuditEntry.TimeOfId(id) is not DateTimeOffset at)
        {
            return Task.FromResult<AuditEntry?>(null);
        }

        string partition = AuditEntry.PartitionFor(tenant, at);
        while (true)
        {
            // The counters to lock are the row's own; read them first, then check under the locks that the row is unchanged.
            AuditEntry? seen;
            using (Locks _ = Lock([partition]))
            {
                seen = PartitionOf(partition).Rows.GetValueOrDefault(id);
            }

            if (seen is null)
            {
                return Task.FromResult<AuditEntry?>(null);
            }

            using Locks held = Lock([partition, .. seen.Counters.Select(c => c.Partition)]);
            Partition own = PartitionOf(partition);
            if (!ReferenceEquals(own.Rows.GetValueOrDefault(id), seen))
            {
                continue;
            }

            if (decide(seen) is not (AuditEntry decided, long heldMicros))
            {
                return Task.FromResult<AuditEntry?>(null);
            }

            AuditEntry outcome = decided with { Counters = seen.Counters, HeldMicros = heldMicros };
            if (outcome.PartitionKey != partition || outcome.Id != id)
            {
                throw new InvalidOperationException("A transition rewrites its own row, in its own partition.");
            }

            long delta = heldMicros - seen.HeldMicros;
            foreach (CounterRef counter in seen.Counters)
            {
                Dictionary<string, long> values = PartitionOf(counter.Partition).Counters;
                values[counter.Row] = values.GetValueOrDefault(counter.Row) + delta;
            }

            own.Rows[id] = outcome;
            return Task.FromResult<AuditEntry?>(outcome);
        }
    }

    // A marker here is one key's Idempotency-Key; how the table ledger names its marker rows is its own business.
    private static string MarkerOf(string keyId, string? idempotencyKey) => keyId + "|" + idempotencyKey;

    public Task<bool> ReplaysEarlierCallAsync(AuditEntry row, CancellationToken cancellationToken)
    {
        if (row.Replay)
        {
            return Task.FromResult(true);
        }

        if (string.IsNullOrEmpty(row.IdempotencyKey))
        {
            return Task.FromResult(false);
        }

        string marker = MarkerOf(row.KeyId, row.IdempotencyKey);
        string dayBefore = DayBefore(row.PartitionKey, row.Timestamp);
        using Locks held = Lock([dayBefore]);
        return Task.FromResult(MarkedTheDayBefore(row.PartitionKey, marker, row.Timestamp));
    }

    public Task RecordDenialAsync(AuditEntry denial, CancellationToken cancellationToken)
    {
        using Locks held = Lock([denial.PartitionKey]);
        PartitionOf(denial.PartitionKey).Rows[denial.Id] = denial;
        return Task.CompletedTask;
    }

    /// <summary>
    /// Nothing here is ever half-done across partitions (every move takes all its partitions' locks at once), so there
    /// are no journals to finish; the rows are filtered under the partition's lock, which is what the table ledger's
    /// index, kept in the rows' own transactions, gives.
    /// </summary>
    public Task<UnsettledDay> UnsettledAsync(string tenant, DateTimeOffset day, DateTimeOffset journalsWrittenBefore, CancellationToken cancellationToken)
    {
        string partition = AuditEntry.PartitionFor(tenant, day);
        using Locks held = Lock([partition]);
        return Task.FromResult(new UnsettledDay([.. PartitionOf(partition).Rows.Values.Where(r => r.Unsettled).OrderBy(r => r.Id, StringComparer.Ordinal)], 0));
    }

    public Task<AuditEntry?> GetAsync(string tenant, string id, CancellationToken cancellationToken)
    {
        if (AuditEntry.TimeOfId(id) is not DateTimeOffset at)
        {
            return Task.FromResult<AuditEntry?>(null);
        }

        string partition = AuditEntry.PartitionFor(tenant, at);
        using Locks held = Lock([partition]);
        return Task.FromResult(PartitionOf(partition).Rows.GetValueOrDefault(id));
    }

    public Task<LedgerDay> DayAsync(string tenant, DateTimeOffset day, CancellationToken cancellationToken)
    {
        string partition = AuditEntry.PartitionFor(tenant, day);
        using Locks held = Lock([partition]);
        Partition own = PartitionOf(partition);
        return Task.FromResult(new LedgerDay(
            [.. own.Rows.Values.OrderBy(r => r.Id, StringComparer.Ordinal)],
            [.. own.Counters.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => (new CounterRef(partition, c.Key), c.Value))]));
    }

    public Task<IReadOnlyList<(CounterRef Counter, long Used)>> CountersAsync(string partition, CancellationToken cancellationToken)
    {
        using Locks held = Lock([partition]);
        return Task.FromResult<IReadOnlyList<(CounterRef, long)>>([.. PartitionOf(partition).Counters
            .OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => (new CounterRef(partition, c.Key), c.Value))]);
    }

    public Task<long> UsedAsync(CapCounter counter, CancellationToken cancellationToken)
    {
        using Locks held = Lock([counter.Partition]);
        return Task.FromResult(PartitionOf(counter.Partition).Counters.GetValueOrDefault(counter.Row));
    }

    private static string DayBefore(string partition, DateTimeOffset at) => CapPlanner.DayPartition(partition[..partition.LastIndexOf('|')], at.AddDays(-1));

    /// <summary>Whether the day before <paramref name="at"/> holds this marker, set less than the vendor's window before it (the caller holds its lock).</summary>
    private bool MarkedTheDayBefore(string partition, string marker, DateTimeOffset at) =>
        _partitions.TryGetValue(DayBefore(partition, at), out Partition? before) &&
        before.Markers.TryGetValue(marker, out DateTimeOffset marked) && marked <= at && at - marked < Reservation.IdempotencyWindow;

    private Partition PartitionOf(string key) => _partitions.GetOrAdd(key, static _ => new Partition());

    /// <summary>Locks the partitions named, in ordinal order so that two calls over the same partitions cannot deadlock.</summary>
    private Locks Lock(IEnumerable<string> partitions)
    {
        Partition[] taken = [.. partitions.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).Select(PartitionOf)];
        foreach (Partition p in taken)
        {
            p.Gate.Enter();
        }

        return new Locks(taken);
    }

    private readonly struct Locks(Partition[] taken) : IDisposable
    {
        public void Dispose()
        {
            for (int i = taken.Length - 1; i >= 0; i--)
            {
                taken[i].Gate.Exit();
            }
        }
    }

    /// <summary>One table partition: audit rows, idempotency markers (with when they were set), counters, loop windows.</summary>
    private sealed class Partition
    {
        public Lock Gate { get; } = new();

        public Dictionary<string, AuditEntry> Rows { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, DateTimeOffset> Markers { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, long> Counters { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, string> Loops { get; } = new(StringComparer.Ordinal);
    }
}
