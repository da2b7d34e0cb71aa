using System.Collections.Concurrent;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Caps;
using Keybrake.Domain.Common;

namespace Keybrake.Infrastructure.Storage;

/// <summary>
/// Audit rows and spend counters in table <c>{prefix}audit</c>. Audit rows: PartitionKey
/// <c>{tenant}|{yyyy-MM-dd}</c>, RowKey newest first. Counters, idempotency markers and loop windows sit in
/// the same partitions under RowKeys starting with '~' (after every audit row), so the intent, the key's
/// reservation and the tenant's daily budgets are one entity-group transaction: one round trip.
/// Every counter write is conditional on the ETag last seen; a 412 means another instance moved first,
/// and the reservation is re-evaluated on fresh values. Counter values and ETags are cached, so a warm
/// instance does not read before it writes. Calls on one partition are committed together (group commit,
/// in <c>TableReservationLedger.GroupCommit.cs</c>): one transaction carries every call that waited for the one before.
/// </summary>
public sealed partial class TableReservationLedger(KeybrakeTables tables, LedgerMemoryLimits? limits = null) : IReservationLedger
{
    private readonly LedgerMemoryLimits _limits = limits ?? new LedgerMemoryLimits();

    private const int MaxAttempts = 400;
    private readonly ConcurrentDictionary<(string, string), (long Used, ETag ETag)> _counters = new();
    private readonly ConcurrentDictionary<(string, string), (string Times, ETag ETag)> _loops = new();

    // Each intent as this instance wrote it, with its ETag, until the call's outcome: the outcome is then written at that
    // ETag without reading the row first. Only a shortcut: a missing entry costs one read, a stale one a 412 and a read.
    private readonly ConcurrentDictionary<(string, string), (AuditEntry Row, ETag ETag)> _intents = new();

    /// <summary>Entries in this instance's maps (counters, loop windows, intents, partition writers); each has a bound, which the soak shows.</summary>
    public int RememberedEntries => _counters.Count + _loops.Count + _intents.Count + _writers.Count;

    public async Task<BeginResult> BeginAsync(AuditEntry intent, Reservation reservation, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Audit, cancellationToken);
        List<CapCounter> counters = reservation.AmountMicros > 0 ? [.. reservation.Counters] : [];
        string primary = intent.PartitionKey;

        // The row records which counters it moves and by how much, so its settlement or release moves exactly those.
        intent = intent with { Counters = [.. reservation.Counters.Select(c => c.Ref)], HeldMicros = counters.Count == 0 ? 0 : reservation.AmountMicros };

        // Counters outside the intent's partition (monthly and cross-tenant budgets) are reserved first, each atomically
        // on its own. A journal entry in the intent's partition, written before and removed in the intent's own
        // transaction, says they were: if this instance stops in between, the reconciler finds the entry and gives
        // them back; markers beside the counters make each reservation and each give-back happen once.
        List<CapCounter> elsewhere = [.. counters.Where(c => c.Partition != primary)];
        (string Row, ETag ETag)? journal = null;
        if (elsewhere.Count > 0)
        {
            TableEntity entry = JournalEntity(primary, JournalRow(intent.Id, "r"), JournalReserve, reservation.AmountMicros, elsewhere.Select(c => c.Ref), intent.Timestamp);
            journal = (entry.RowKey, (await table.AddEntityAsync(entry, cancellationToken)).Headers.ETag ?? ETag.All);
        }

        var reservedElsewhere = new List<IGrouping<string, CapCounter>>();
        var reservedValues = new List<(CapCounter Counter, long Used)>();
        foreach (IGrouping<string, CapCounter> group in elsewhere.GroupBy(c => c.Partition).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            TableTransactionAction marker = new(TableTransactionActionType.Add, MarkerEntity(group.Key, primary, journal!.Value.Row, intent.Timestamp));
            BeginResult result = await ReservePartitionAsync(table, group.Key, [.. group], reservation.AmountMicros, null, null, null, [marker], cancellationToken);
            if (result.Status != BeginStatus.Reserved)
            {
                await GiveBackAsync(table, primary, journal.Value, reservedElsewhere, reservation.AmountMicros);
                return result;
            }

            reservedElsewhere.Add(group);
            reservedValues.AddRange(result.Reserved);
        }

        await StepAsync(StepReservedElsewhere);
        BeginResult primaryResult;
        try
        {
            // Beside the intent: the close of its journal entry, and its entry in the unsettled index (the reconciler
            // reads only that index), so no intent is ever written without it.
            List<TableTransactionAction> beside = journal is (string journalRow, ETag journalETag)
                ? [new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(primary, journalRow), journalETag)]
                : [];
            if (intent.Unsettled)
            {
                beside.Add(new TableTransactionAction(TableTransactionActionType.Add, AuditEntities.ToUnsettledEntity(intent)));
            }

            primaryResult = await ReservePartitionAsync(
                table, primary, [.. counters.Where(c => c.Partition == primary)], reservation.AmountMicros, intent, reservation.IdempotencyRow, reservation.Loop,
                beside, cancellationToken);
        }
        catch
        {
            if (journal is not null)
            {
                await GiveBackAsync(table, primary, journal.Value, reservedElsewhere, reservation.AmountMicros);
            }

            throw;
        }

        if (primaryResult.Status == BeginStatus.Reserved)
        {
            return primaryResult with { Reserved = [.. reservedValues, .. primaryResult.Reserved] };
        }

        if (journal is not null)
        {
            await GiveBackAsync(table, primary, journal.Value, reservedElsewhere, reservation.AmountMicros);
        }

        if (primaryResult.Status == BeginStatus.Replay)
        {
            // Seen before: the vendor replays its first answer. Record this call, reserve nothing.
            AuditEntry replay = intent with { Reason = "idempotent_replay", CostMicros = 0, Replay = true, Counters = [], HeldMicros = 0 };
            List<TableTransactionAction> actions = [new TableTransactionAction(TableTransactionActionType.Add, AuditEntities.ToEntity(replay))];
            if (replay.Unsettled)
            {
                actions.Add(new TableTransactionAction(TableTransactionActionType.Add, AuditEntities.ToUnsettledEntity(replay)));
            }

            Response<IReadOnlyList<Response>> added = await table.SubmitTransactionAsync(actions, cancellationToken);
            RememberIntent(replay, added.Value[0].Headers.ETag);
        }

        return primaryResult;
    }

    public async Task CompleteAsync(AuditEntry outcome, Reservation reservation, long heldMicros, bool releaseIdempotencyKey, CancellationToken cancellationToken)
    {
        // Usually the first write since the intent: at the intent's ETag, no read. Applied only while the row is still in
        // doubt: once an operator or the reconciler resolved it, a late answer moves nothing (the counters follow the row).
        _intents.TryRemove((outcome.PartitionKey, outcome.Id), out (AuditEntry Row, ETag ETag) known);
        List<TableTransactionAction> extra = [];
        if (releaseIdempotencyKey && reservation.IdempotencyRow is not null && !outcome.Replay)
        {
            // The vendor refused outright and will not replay: a retry with this key is a new attempt.
            extra.Add(new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(outcome.PartitionKey, reservation.IdempotencyRow), ETag.All));
        }

        await MoveAsync(outcome.Tenant, outcome.Id, current => current.Outcome == AuditOutcome.InDoubt ? (outcome, heldMicros) : null,
            known.Row is null ? null : known, extra, cancellationToken);
    }

    public Task<AuditEntry?> TransitionAsync(string tenant, string id, Func<AuditEntry, (AuditEntry Outcome, long HeldMicros)?> decide, CancellationToken cancellationToken) =>
        MoveAsync(tenant, id, decide, known: null, extra: [], cancellationToken);

    /// <summary>
    /// One ETag-conditional move of an audit row and of the counters it recorded: <paramref name="decide"/> sees the row as
    /// stored (or as this instance last wrote it, <paramref name="known"/>, when it has not changed since) and returns the
    /// outcome and what its counters hold for it now; the row's partition counters move by the difference in the same
    /// transaction, so they move exactly once whoever races.
    /// </summary>
    private async Task<AuditEntry?> MoveAsync(
        string tenant, string id, Func<AuditEntry, (AuditEntry Outcome, long HeldMicros)?> decide, (AuditEntry Row, ETag ETag)? known,
        List<TableTransactionAction> extra, CancellationToken cancellationToken)
    {
        if (AuditEntry.TimeOfId(id) is not DateTimeOffset at || id.StartsWith('~'))
        {
            return null;
        }

        TableClient table = await tables.GetAsync(KeybrakeTables.Audit, cancellationToken);
        string partition = AuditEntry.PartitionFor(tenant, at);
        (AuditEntry Outcome, TableEntity? Journal)? written = await MoveInBatchAsync(table, partition, id, decide, known, extra, cancellationToken);
        if (written is not (AuditEntry done, var moveJournal))
        {
            return null;
        }

        if (moveJournal is not null)
        {
            await StepAsync(StepMoved);
            await FinishMoveAsync(table, moveJournal, cancellationToken);
        }

        return done;
    }

    public async Task RecordDenialAsync(AuditEntry denial, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Audit, cancellationToken);
        await table.AddEntityAsync(AuditEntities.ToEntity(denial), cancellationToken);
    }

    public async Task<AuditEntry?> GetAsync(string tenant, string id, CancellationToken cancellationToken)
    {
        if (AuditEntry.TimeOfId(id) is not DateTimeOffset at || id.StartsWith('~'))
        {
            return null;
        }

        TableClient table = await tables.GetAsync(KeybrakeTables.Audit, cancellationToken);
        NullableResponse<TableEntity> row = await table.GetEntityIfExistsAsync<TableEntity>(AuditEntry.PartitionFor(tenant, at), id, cancellationToken: cancellationToken);
        return row.HasValue ? AuditEntities.FromEntity(row.Value!) : null;
    }

    public async Task<long> UsedAsync(CapCounter counter, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Audit, cancellationToken);
        return (await ReadCounterAsync(table, counter.Partition, counter.Row, cancellationToken)).Used;
    }

    /// <summary>
    /// After losing an ETag race, wait a random few milliseconds (growing with the attempt, at most 50) so
    /// the instances that collided do not collide again in lockstep. This spaces retries; it decides nothing:
    /// the ETag-checked write decides who reserved. Wall-clock on purpose, not the injected TimeProvider: it is
    /// a pause between two storage requests, and a test clock that only moves when told would stall it.
    /// </summary>
    private static Task ConflictBackoffAsync(int attempt, CancellationToken cancellationToken) =>
        Task.Delay(Random.Shared.Next(0, 1 + Math.Min(1 << Math.Min(attempt, 6), 50)), cancellationToken);

    /// <summary>
    /// A retry of a call already reserved is replayed by the vendor, so no cap or loop refuses it: its marker is in this
    /// day's partition, or in the day before's within the vendor's window (a call at 23:59:58 retried at 00:00:01).
    /// </summary>
    private static async Task<bool> IsReplayAsync(TableClient table, string partition, string? idempotencyRow, DateTimeOffset? at, CancellationToken cancellationToken) =>
        idempotencyRow is not null &&
        ((await table.GetEntityIfExistsAsync<TableEntity>(partition, idempotencyRow, ["PartitionKey"], cancellationToken)).HasValue ||
         (at is DateTimeOffset now && await MarkedTheDayBeforeAsync(table, partition, idempotencyRow, now, cancellationToken)));

    /// <summary>Whether the day before <paramref name="at"/> holds this marker, written less than the vendor's window before it.</summary>
    private static async Task<bool> MarkedTheDayBeforeAsync(TableClient table, string partition, string idempotencyRow, DateTimeOffset at, CancellationToken cancellationToken)
    {
        string scope = partition[..partition.LastIndexOf('|')];
        NullableResponse<TableEntity> marker = await table.GetEntityIfExistsAsync<TableEntity>(
            CapPlanner.DayPartition(scope, at.AddDays(-1)), idempotencyRow, ["At"], cancellationToken);
        return marker.HasValue && marker.Value!.GetDateTimeOffset("At") is DateTimeOffset marked && marked <= at && at - marked < Reservation.IdempotencyWindow;
    }

    public async Task<bool> ReplaysEarlierCallAsync(AuditEntry row, CancellationToken cancellationToken)
    {
        if (row.Replay)
        {
            return true;
        }

        if (string.IsNullOrEmpty(row.IdempotencyKey))
        {
            return false;
        }

        // The row reserved as a first call (its own day held no marker); the vendor still answers it from a first call
        // made on the day before within its window, so it moved nothing.
        TableClient table = await tables.GetAsync(KeybrakeTables.Audit, cancellationToken);
        return await MarkedTheDayBeforeAsync(table, row.PartitionKey, AuditRowKeys.Idempotency(row.KeyId, row.IdempotencyKey), row.Timestamp, cancellationToken);
    }

    private async Task<(long Used, ETag ETag, bool Cached)> CounterAsync(TableClient table, string partition, string row, bool fresh, CancellationToken cancellationToken)
    {
        if (!fresh)
        {
            // Unknown to this instance: assume a new row and insert it; if it exists after all, the insert
            // fails with 409 and the next attempt reads it. Either way the write is conditional.
            return _counters.TryGetValue((partition, row), out (long Used, ETag ETag) cached) ? (cached.Used, cached.ETag, true) : (0, default, true);
        }

        (long used, ETag etag) = await ReadCounterAsync(table, partition, row, cancellationToken);
        _counters[(partition, row)] = (used, etag);
        return (used, etag, false);
    }

    private static async Task<(long Used, ETag ETag)> ReadCounterAsync(TableClient table, string partition, string row, CancellationToken cancellationToken)
    {
        NullableResponse<TableEntity> entity = await table.GetEntityIfExistsAsync<TableEntity>(partition, row, ["UsedMicros"], cancellationToken);
        return entity.HasValue ? (entity.Value!.GetInt64("UsedMicros") ?? 0, entity.Value.ETag) : (0, default);
    }

    private async Task<(string Times, ETag ETag, bool Cached)> LoopAsync(TableClient table, LoopGuard loop, bool fresh, CancellationToken cancellationToken)
    {
        if (!fresh)
        {
            return _loops.TryGetValue((loop.Partition, loop.Row), out (string Times, ETag ETag) cached) ? (cached.Times, cached.ETag, true) : (string.Empty, default, true);
        }

        NullableResponse<TableEntity> entity = await table.GetEntityIfExistsAsync<TableEntity>(loop.Partition, loop.Row, [LoopColumn], cancellationToken);
        (string times, ETag etag) = entity.HasValue ? (entity.Value!.GetString(LoopColumn) ?? string.Empty, entity.Value.ETag) : (string.Empty, default);
        RememberLoop(loop.Partition, loop.Row, times, etag);
        return (times, etag, false);
    }

    /// <summary>A conditional write: an insert when the row did not exist, else a replace at the ETag read.</summary>
    private static TableTransactionAction Write(TableEntity entity, ETag etag) =>
        etag == default
            ? new TableTransactionAction(TableTransactionActionType.Add, entity)
            : new TableTransactionAction(TableTransactionActionType.UpdateReplace, entity, etag);

    private static TableEntity CounterEntity(string partition, string row, long used) => new(partition, row) { ["UsedMicros"] = used };

    // The loop window's column: counts per time bucket (the former one-entry-per-call "Times" grew with loop_max_calls).
    private const string LoopColumn = "Buckets";

    private void RememberLoop(string partition, string row, string window, ETag etag)
    {
        if (_loops.Count >= _limits.LoopWindows)
        {
            // One entry per key, call shape and day: without a bound a long-lived instance keeps every day's. Dropping
            // them costs each window one read.
            _loops.Clear();
        }

        _loops[(partition, row)] = (window, etag);
    }

    private void RememberIntent(AuditEntry row, ETag? etag)
    {
        if (etag is not ETag known)
        {
            return;
        }

        if (_intents.Count >= _limits.Intents)
        {
            // Calls that never reached their outcome (the process failed them between intent and forward) must not
            // accumulate: dropping the shortcut costs each pending call one read.
            _intents.Clear();
        }

        _intents[(row.PartitionKey, row.Id)] = (row, known);
    }

    private void Remember(
        List<TableTransactionAction> actions, IReadOnlyList<Response> responses, IEnumerable<(string Row, long Used)> counters, (string Row, string Times)? loop)
    {
        var etags = new Dictionary<string, ETag>(StringComparer.Ordinal);
        for (int i = 0; i < actions.Count && i < responses.Count; i++)
        {
            if (responses[i].Headers.ETag is ETag etag)
            {
                etags[actions[i].Entity.RowKey] = etag;
            }
        }

        string partition = actions[0].Entity.PartitionKey;
        if (_counters.Count >= _limits.Counters)
        {
            // One entry per key and budget and day: dropping them costs each counter one conflict and read.
            _counters.Clear();
        }

        foreach ((string row, long used) in counters)
        {
            if (etags.TryGetValue(row, out ETag etag))
            {
                _counters[(partition, row)] = (used, etag);
            }
            else
            {
                _counters.TryRemove((partition, row), out _);
            }
        }

        if (loop is (string loopRow, string times))
        {
            if (etags.TryGetValue(loopRow, out ETag etag))
            {
                RememberLoop(partition, loopRow, times, etag);
            }
            else
            {
                _loops.TryRemove((partition, loopRow), out _);
            }
        }
    }
}

/// <summary>
/// How many entries an instance's ledger keeps in each of its maps before it drops them. Each is a shortcut (a dropped
/// entry costs one read or one conflict), kept per key, call shape and day, so without a bound a long-lived instance
/// would hold every day's.
/// </summary>
public sealed record LedgerMemoryLimits(int Counters = 100_000, int LoopWindows = 100_000, int Intents = 100_000, int IdleWriters = 10_000);
