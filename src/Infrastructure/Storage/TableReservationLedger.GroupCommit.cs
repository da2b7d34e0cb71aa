using System.Collections.Concurrent;
using Azure;
using Azure.Data.Tables;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Caps;
using Keybrake.Domain.Common;

namespace Keybrake.Infrastructure.Storage;

/// <summary>
/// Group commit. Per partition and instance, reservations and row moves (outcomes, settlements, resolutions) queue,
/// and one drainer at a time takes everything waiting into one entity-group transaction: each call's own rows (its
/// intent or its row's replacement at that row's ETag, its idempotency marker, its journal entries) and one merged,
/// ETag-conditional write per counter and loop window. Caps are decided per call in arrival order on the running
/// values, so a call that would pass a limit is refused and left out while the others commit. A failed action is
/// traced to its call: that call is answered (a replay, a lost race on its row) and the rest re-planned; a counter
/// conflict (another instance moved first) re-reads that counter and re-plans the whole batch. No call returns
/// before the transaction holding its rows committed.
/// </summary>
public sealed partial class TableReservationLedger
{
    // Table Storage's limits for one entity-group transaction; the size is kept well under 4 MB since it is estimated.
    private const int MaxBatchActions = 100;
    private const int MaxBatchBytes = 3_500_000;

    private readonly ConcurrentDictionary<string, PartitionWriter> _writers = new(StringComparer.Ordinal);

    private sealed class PartitionWriter
    {
        // Held by whoever writes this partition's counters: the drainer for a batch, a journal step for its move.
        public SemaphoreSlim Gate { get; } = new(1, 1);

        public ConcurrentQueue<PartitionOp> Queue { get; } = new();

        public int Draining;
    }

    // One writer per tenant-day seen: without a bound a long-lived instance keeps every past day's.
    private PartitionWriter WriterOf(string partition)
    {
        if (_writers.Count > _limits.IdleWriters && !_writers.ContainsKey(partition))
        {
            // Dropping an idle writer is safe even if a caller still holds it: a second writer for one partition only
            // brings back the races between instances, which the ETags decide.
            foreach ((string key, PartitionWriter idle) in _writers)
            {
                if (Volatile.Read(ref idle.Draining) == 0 && idle.Queue.IsEmpty && idle.Gate.CurrentCount == 1)
                {
                    _writers.TryRemove(new KeyValuePair<string, PartitionWriter>(key, idle));
                }
            }
        }

        return _writers.GetOrAdd(partition, static _ => new PartitionWriter());
    }

    private abstract class PartitionOp(CancellationToken cancellationToken)
    {
        public CancellationToken CancellationToken { get; } = cancellationToken;

        /// <summary>The rows only this op writes: two ops naming one row cannot share a transaction.</summary>
        public abstract IEnumerable<string> OwnRows { get; }

        /// <summary>Upper bound of the actions this op adds (its own rows and, unmerged, its counters).</summary>
        public abstract int MaxActions { get; }

        public abstract int EstimatedBytes { get; }

        public abstract void Fail(Exception exception);

        public abstract void Cancel();
    }

    /// <summary>A reservation in one partition: intent (none for counters outside the intent's partition), marker, loop window, counters.</summary>
    private sealed class ReserveOp(
        List<CapCounter> counters, long amount, AuditEntry? intent, string? idempotencyRow, LoopGuard? loop,
        IReadOnlyList<TableTransactionAction> extra, CancellationToken cancellationToken) : PartitionOp(cancellationToken)
    {
        public List<CapCounter> Counters { get; } = counters;

        public long Amount { get; } = amount;

        public AuditEntry? Intent { get; } = intent;

        public string? IdempotencyRow { get; } = idempotencyRow;

        public LoopGuard? Loop { get; } = loop;

        public IReadOnlyList<TableTransactionAction> Extra { get; } = extra;

        /// <summary>Whether a refused call is a retry the vendor replays; read once per op.</summary>
        public bool? ReplayChecked { get; set; }

        public TaskCompletionSource<BeginResult> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override IEnumerable<string> OwnRows =>
            [.. Intent is null ? [] : new[] { Intent.Id }, .. IdempotencyRow is null ? [] : new[] { IdempotencyRow }, .. Extra.Select(e => e.Entity.RowKey)];

        public override int MaxActions => (Intent is null ? 0 : 1) + (IdempotencyRow is null ? 0 : 1) + Extra.Count + Counters.Count + (Loop is null ? 0 : 1);

        public override int EstimatedBytes => 2048 + (Intent is null ? 0 : 2 * (Intent.Path.Length + Intent.Label.Length + (Intent.Reason?.Length ?? 0) + (Intent.Operation?.Length ?? 0)));

        public override void Fail(Exception exception) => Done.TrySetException(exception);

        public override void Cancel() => Done.TrySetCanceled(CancellationToken);
    }

    /// <summary>A move of one audit row (and of the counters it recorded in its partition) to what <see cref="Decide"/> says.</summary>
    private sealed class MoveOp(
        string id, Func<AuditEntry, (AuditEntry Outcome, long HeldMicros)?> decide, (AuditEntry Row, ETag ETag)? known,
        List<TableTransactionAction> extra, CancellationToken cancellationToken) : PartitionOp(cancellationToken)
    {
        public string Id { get; } = id;

        public Func<AuditEntry, (AuditEntry Outcome, long HeldMicros)?> Decide { get; } = decide;

        /// <summary>The row with its ETag as last seen; null: read it.</summary>
        public (AuditEntry Row, ETag ETag)? Known { get; set; } = known;

        public List<TableTransactionAction> Extra { get; } = extra;

        public TaskCompletionSource<(AuditEntry Outcome, TableEntity? Journal)?> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override IEnumerable<string> OwnRows => [Id, .. Extra.Select(e => e.Entity.RowKey)];

        // Row, its unsettled index entry, extras, journal entry, and its counters when known (a row records its key's and its budgets': a few).
        public override int MaxActions => 3 + Extra.Count + (Known?.Row.Counters.Count ?? 4);

        public override int EstimatedBytes => 4096 + 2 * (Known?.Row.Path.Length ?? 1024);

        public override void Fail(Exception exception) => Done.TrySetException(exception);

        public override void Cancel() => Done.TrySetCanceled(CancellationToken);
    }

    private async Task<BeginResult> ReservePartitionAsync(
        TableClient table, string partition, List<CapCounter> counters, long amount, AuditEntry? intent, string? idempotencyRow, LoopGuard? loop,
        IReadOnlyList<TableTransactionAction> extra, CancellationToken cancellationToken)
    {
        var op = new ReserveOp(counters, amount, intent, idempotencyRow, loop, extra, cancellationToken);
        Enqueue(table, partition, op);
        return await op.Done.Task;
    }

    private async Task<(AuditEntry Outcome, TableEntity? Journal)?> MoveInBatchAsync(
        TableClient table, string partition, string id, Func<AuditEntry, (AuditEntry Outcome, long HeldMicros)?> decide, (AuditEntry Row, ETag ETag)? known,
        List<TableTransactionAction> extra, CancellationToken cancellationToken)
    {
        var op = new MoveOp(id, decide, known, extra, cancellationToken);
        Enqueue(table, partition, op);
        return await op.Done.Task;
    }

    private void Enqueue(TableClient table, string partition, PartitionOp op)
    {
        PartitionWriter writer = WriterOf(partition);
        writer.Queue.Enqueue(op);
        if (Interlocked.CompareExchange(ref writer.Draining, 1, 0) == 0)
        {
            // This caller drains until its first await; everything that queues meanwhile waits for the next batch.
            _ = DrainAsync(table, partition, writer);
        }
    }

    /// <summary>The one drainer of a partition: batch after batch while anything waits, then hands the role back.</summary>
    private async Task DrainAsync(TableClient table, string partition, PartitionWriter writer)
    {
        while (true)
        {
            while (!writer.Queue.IsEmpty)
            {
                List<PartitionOp> batch = [];
                await writer.Gate.WaitAsync(CancellationToken.None);
                try
                {
                    batch = Take(writer.Queue);
                    while (batch.Count > 0)
                    {
                        // What did not fit (a move whose row named more counters than assumed) goes next, before newer arrivals.
                        batch = await CommitBatchAsync(table, partition, batch);
                    }
                }
                catch (Exception e)
                {
                    foreach (PartitionOp op in batch)
                    {
                        op.Fail(e);
                    }
                }
                finally
                {
                    writer.Gate.Release();
                }
            }

            Volatile.Write(ref writer.Draining, 0);
            if (writer.Queue.IsEmpty || Interlocked.CompareExchange(ref writer.Draining, 1, 0) != 0)
            {
                return;
            }
        }
    }

    /// <summary>Takes waiting ops in arrival order while they fit one transaction and name no row twice.</summary>
    private static List<PartitionOp> Take(ConcurrentQueue<PartitionOp> queue)
    {
        var batch = new List<PartitionOp>();
        var rows = new HashSet<string>(StringComparer.Ordinal);
        var shared = new HashSet<string>(StringComparer.Ordinal);
        int actions = 0;
        int bytes = 0;
        while (queue.TryPeek(out PartitionOp? op))
        {
            if (op.CancellationToken.IsCancellationRequested)
            {
                queue.TryDequeue(out _);
                op.Cancel();
                continue;
            }

            IEnumerable<string> sharedRows = op switch
            {
                ReserveOp r => [.. r.Counters.Select(c => c.Row), .. r.Loop is null ? [] : new[] { r.Loop.Row }],
                MoveOp m => m.Known?.Row.Counters.Select(c => c.Row) ?? [],
                _ => [],
            };
            int adds = op.MaxActions - sharedRows.Count(shared.Contains);
            if (batch.Count > 0 && (actions + adds > MaxBatchActions || bytes + op.EstimatedBytes > MaxBatchBytes || op.OwnRows.Any(rows.Contains)))
            {
                break;
            }

            queue.TryDequeue(out _);
            batch.Add(op);
            actions += adds;
            bytes += op.EstimatedBytes;
            rows.UnionWith(op.OwnRows);
            shared.UnionWith(sharedRows);
        }

        return batch;
    }
}
