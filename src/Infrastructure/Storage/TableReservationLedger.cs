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
public sealed partial class TableReservationLedger(KeybrakeTables tables) : IReservationLedger
{
    private const int MaxAttempts = 400;
    private readonly ConcurrentDictionary<(string, string), (long Used, ETag ETag)> _counters = new();
    private readonly ConcurrentDictionary<(string, string), (string Times, ETag ETag)> _loops = new();

    // Each intent as this instance wrote it, with its ETag, until the call's outcome: the outcome is then written at that
    // ETag without reading the row first. Only a shortcut: a missing entry costs one read, a stale one a 412 and a read.
    private readonly ConcurrentDictionary<(string, string), (AuditEntry Row, ETag ETag)> _intents = new();
    private const int MaxRememberedIntents = 100_000;

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
            List<TableTransactionAction> closeJournal = journal is (string journalRow, ETag journalETag)
                ? [new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(primary, journalRow), journalETag)]
                : [];
            primaryResult = await ReservePartitionAsync(
                table, primary, [.. counters.Where(c => c.Partition == primary)], reservation.AmountMicros, intent, reservation.IdempotencyRow, reservation.Loop,
                closeJournal, cancellationToken);
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
            Response added = await table.AddEntityAsync(AuditEntities.ToEntity(replay), cancellationToken);
            RememberIntent(replay, added.Headers.ETag);
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

    public async Task<IReadOnlyList<AuditEntry>> UnsettledAsync(string tenant, DateTimeOffset day, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Audit, cancellationToken);
        string partition = AuditEntry.PartitionFor(tenant, day);
        string filter = TableClient.CreateQueryFilter(
            $"PartitionKey eq {partition} and RowKey lt {"~"} and (Outcome eq {AuditOutcome.InDoubt} or (Outcome eq {AuditOutcome.Forwarded} and CostSource eq {"estimated"}))");
        var rows = new List<AuditEntry>();
        await foreach (TableEntity entity in table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
        {
            rows.Add(AuditEntities.FromEntity(entity));
        }

        return rows;
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

    public async Task<IReadOnlyList<(CounterRef Counter, long Used)>> CountersAsync(string partition, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Audit, cancellationToken);
        var counters = new List<(CounterRef, long)>();
        await foreach (TableEntity entity in table.QueryAsync<TableEntity>(
                           TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {CounterPrefix} and RowKey lt {TableFilters.UpperBound(CounterPrefix)}"),
                           select: ["RowKey", "UsedMicros"], cancellationToken: cancellationToken))
        {
            counters.Add((new CounterRef(partition, entity.RowKey), entity.GetInt64("UsedMicros") ?? 0));
        }

        return counters;
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

    /// <summary>
    /// Moves counters of one partition by <paramref name="delta"/> in one transaction with <paramref name="marker"/>, the
    /// step's marker beside them (added to apply a step, deleted to give one back), so the step happens at most once:
    /// false when the marker says it already did (or, for a give-back, never did). Counters are ETag-conditional.
    /// </summary>
    private async Task<bool> MoveOnceAsync(TableClient table, string partition, IReadOnlyList<string> rows, long delta, TableTransactionAction marker, CancellationToken cancellationToken)
    {
        SemaphoreSlim gate = WriterOf(partition).Gate;
        await gate.WaitAsync(cancellationToken);
        try
        {
            for (int attempt = 0; attempt < MaxAttempts; attempt++)
            {
                var states = new List<(string Row, long Used, ETag ETag)>();
                foreach (string row in rows)
                {
                    (long used, ETag etag, bool _) = await CounterAsync(table, partition, row, attempt > 0, cancellationToken);
                    states.Add((row, used, etag));
                }

                List<TableTransactionAction> actions = [marker, .. states.Select(s => Write(CounterEntity(partition, s.Row, s.Used + delta), s.ETag))];
                try
                {
                    Response<IReadOnlyList<Response>> response = await table.SubmitTransactionAsync(actions, cancellationToken);
                    Remember(actions, response.Value, states.Select(s => (s.Row, s.Used + delta)), null);
                    return true;
                }
                catch (TableTransactionFailedException e) when (e.FailedTransactionActionIndex == 0 && e.Status is 409 or 404)
                {
                    return false;
                }
                catch (TableTransactionFailedException e) when (e.FailedTransactionActionIndex is int index && index > 0 && index < actions.Count && e.Status is 409 or 412)
                {
                    _counters.TryRemove((partition, actions[index].Entity.RowKey), out _);
                    await ConflictBackoffAsync(attempt, cancellationToken);
                }
            }
        }
        finally
        {
            gate.Release();
        }

        throw new TimeoutException($"Could not move counters after {MaxAttempts} attempts under contention.");
    }

    // The journal: entries in a row's own partition for moves of counters in other partitions; markers beside those counters.
    private const string CounterPrefix = "~cap|";
    private const string JournalPrefix = "~journal|";
    private const string JournalReserve = "reserve";
    private const string JournalMove = "move";

    /// <summary>Test hook: awaited between the steps of a move across partitions, so a test can stop an instance there.</summary>
    public Func<string, Task>? StepHook { get; set; }

    public const string StepReservedElsewhere = "reserved-elsewhere";
    public const string StepMoved = "moved";

    private Task StepAsync(string step) => StepHook?.Invoke(step) ?? Task.CompletedTask;

    private static string JournalRow(string auditId, string step) => JournalPrefix + auditId + "|" + step;

    private static TableEntity JournalEntity(string partition, string row, string kind, long delta, IEnumerable<CounterRef> counters, DateTimeOffset at) => new(partition, row)
    {
        ["Kind"] = kind,
        ["Delta"] = delta,
        ["Counters"] = JsonSerializer.Serialize(counters.Select(c => new[] { c.Partition, c.Row })),
        ["At"] = at,
    };

    /// <summary>The marker of one journal entry's step in a counter's partition; it stays, so a late retry of the step is a no-op.</summary>
    private static TableEntity MarkerEntity(string counterPartition, string journalPartition, string journalRow, DateTimeOffset at) =>
        new(counterPartition, "~applied|" + journalPartition + "|" + journalRow[JournalPrefix.Length..]) { ["At"] = at };

    private static List<CounterRef> JournalCounters(TableEntity journal) =>
        [.. JsonSerializer.Deserialize<string[][]>(journal.GetString("Counters") ?? "[]")!.Select(c => new CounterRef(c[0], c[1]))];

    /// <summary>Applies a move's journal entry to each partition it names (once each), then closes it.</summary>
    private async Task FinishMoveAsync(TableClient table, TableEntity journal, CancellationToken cancellationToken)
    {
        long delta = journal.GetInt64("Delta") ?? 0;
        DateTimeOffset at = journal.GetDateTimeOffset("At") ?? DateTimeOffset.MinValue;
        foreach (IGrouping<string, CounterRef> group in JournalCounters(journal).GroupBy(c => c.Partition))
        {
            TableTransactionAction marker = new(TableTransactionActionType.Add, MarkerEntity(group.Key, journal.PartitionKey, journal.RowKey, at));
            await MoveOnceAsync(table, group.Key, [.. group.Select(c => c.Row)], delta, marker, cancellationToken);
        }

        await DeleteIfExistsAsync(table, journal.PartitionKey, journal.RowKey, ETag.All, cancellationToken);
    }

    /// <summary>
    /// Gives back a reservation made elsewhere for an intent that was never written (refused, failed, or abandoned),
    /// once per partition whatever the number of callers, then closes its journal entry (at the ETag given: a claim
    /// by the reconciler makes the proxy's close fail, so an intent can never be written after its give-back).
    /// </summary>
    private async Task GiveBackAsync(TableClient table, string primary, (string Row, ETag ETag) journal, IEnumerable<IGrouping<string, CapCounter>> groups, long amount)
    {
        foreach (IGrouping<string, CapCounter> group in groups)
        {
            TableTransactionAction marker = new(TableTransactionActionType.Delete, MarkerEntity(group.Key, primary, journal.Row, default), ETag.All);
            await MoveOnceAsync(table, group.Key, [.. group.Select(c => c.Row)], -amount, marker, CancellationToken.None);
        }

        await DeleteIfExistsAsync(table, primary, journal.Row, journal.ETag, CancellationToken.None);
    }

    private static async Task DeleteIfExistsAsync(TableClient table, string partition, string row, ETag etag, CancellationToken cancellationToken)
    {
        try
        {
            await table.DeleteEntityAsync(partition, row, etag, cancellationToken);
        }
        catch (RequestFailedException e) when (e.Status is 404 or 412)
        {
            // Closed already, or claimed by another finisher, which closes it.
        }
    }

    public async Task<int> FinishJournalsAsync(string tenant, DateTimeOffset day, DateTimeOffset writtenBefore, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Audit, cancellationToken);
        string partition = AuditEntry.PartitionFor(tenant, day);
        string filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {JournalPrefix} and RowKey lt {TableFilters.UpperBound(JournalPrefix)}");
        int finished = 0;
        await foreach (TableEntity journal in table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
        {
            if (journal.GetDateTimeOffset("At") is not DateTimeOffset at || at >= writtenBefore)
            {
                // Young: its writer is most likely still at work.
                continue;
            }

            if (journal.GetString("Kind") == JournalMove)
            {
                // The row moved; its counters elsewhere follow, once each, whoever else is finishing the same entry.
                await FinishMoveAsync(table, journal, cancellationToken);
                finished++;
                continue;
            }

            // A reservation whose intent was never written (writing it closes this entry in the same transaction). Claim
            // the entry first, at its ETag: the proxy, if it is only slow, then fails to write the intent and gives back too.
            Response claimed;
            try
            {
                claimed = await table.UpdateEntityAsync(new TableEntity(partition, journal.RowKey) { ["Abandoned"] = true }, journal.ETag, TableUpdateMode.Merge, cancellationToken);
            }
            catch (RequestFailedException e) when (e.Status is 404 or 412)
            {
                continue;
            }

            long amount = journal.GetInt64("Delta") ?? 0;
            IEnumerable<IGrouping<string, CapCounter>> groups = JournalCounters(journal)
                .Select(c => new CapCounter(c.Partition, c.Row, 0, string.Empty)).GroupBy(c => c.Partition);
            await GiveBackAsync(table, partition, (journal.RowKey, claimed.Headers.ETag ?? ETag.All), groups, amount);
            finished++;
        }

        return finished;
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
    private const int MaxRememberedLoops = 100_000;
    private const int MaxRememberedCounters = 100_000;

    private void RememberLoop(string partition, string row, string window, ETag etag)
    {
        if (_loops.Count >= MaxRememberedLoops)
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

        if (_intents.Count >= MaxRememberedIntents)
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
        if (_counters.Count >= MaxRememberedCounters)
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
