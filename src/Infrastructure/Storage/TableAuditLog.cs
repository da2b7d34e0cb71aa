using System.Collections.Concurrent;
using System.Globalization;
using Azure;
using Azure.Data.Tables;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Caps;

namespace Keybrake.Infrastructure.Storage;

/// <summary>
/// Audit rows and spend counters in table <c>{prefix}audit</c>. Audit rows: PartitionKey
/// <c>{tenant}|{yyyy-MM-dd}</c>, RowKey newest first. Counters, idempotency markers and loop windows sit in
/// the same partitions under RowKeys starting with '~' (after every audit row), so the intent, the key's
/// reservation and the tenant's daily budgets are one entity-group transaction: one round trip.
/// Every counter write is conditional on the ETag last seen; a 412 means another instance moved first,
/// and the reservation is re-evaluated on fresh values. Counter values and ETags are cached, so a warm
/// instance does not read before it writes.
/// </summary>
public sealed class TableAuditLog(KeybrakeTables tables) : IAuditLog, IAuditReader
{
    private const int MaxAttempts = 400;
    private readonly ConcurrentDictionary<(string, string), (long Used, ETag ETag)> _counters = new();
    private readonly ConcurrentDictionary<(string, string), (string Times, ETag ETag)> _loops = new();

    // Each intent as this instance wrote it, with its ETag, until the call's outcome: the outcome is then written at that
    // ETag without reading the row first. Only a shortcut: a missing entry costs one read, a stale one a 412 and a read.
    private readonly ConcurrentDictionary<(string, string), (AuditEntry Row, ETag ETag)> _intents = new();
    private const int MaxRememberedIntents = 100_000;

    // One writer per partition per instance: calls on the same counters queue here instead of racing each
    // other to 412s. Instances still race each other, and the ETags keep that correct.
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _partitionGates = new(StringComparer.Ordinal);

    public async Task<BeginResult> BeginAsync(AuditEntry intent, Reservation reservation, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Audit, cancellationToken);
        List<CapCounter> counters = reservation.AmountMicros > 0 ? [.. reservation.Counters] : [];
        string primary = intent.PartitionKey;

        // The row records which counters it moves and by how much, so its settlement or release moves exactly those.
        intent = intent with { Counters = [.. reservation.Counters.Select(c => c.Ref)], HeldMicros = counters.Count == 0 ? 0 : reservation.AmountMicros };

        // Counters outside the intent's partition (monthly and cross-tenant budgets) are reserved first, each
        // atomically on its own; they are given back if a later partition refuses.
        var reservedElsewhere = new List<IGrouping<string, CapCounter>>();
        var reservedValues = new List<(CapCounter Counter, long Used)>();
        foreach (IGrouping<string, CapCounter> group in counters.Where(c => c.Partition != primary).GroupBy(c => c.Partition).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            BeginResult result = await ReservePartitionAsync(table, group.Key, [.. group], reservation.AmountMicros, null, null, null, cancellationToken);
            if (result.Status != BeginStatus.Reserved)
            {
                await ReleaseAsync(table, reservedElsewhere, reservation.AmountMicros);
                return result;
            }

            reservedElsewhere.Add(group);
            reservedValues.AddRange(result.Reserved);
        }

        BeginResult primaryResult;
        try
        {
            primaryResult = await ReservePartitionAsync(
                table, primary, [.. counters.Where(c => c.Partition == primary)], reservation.AmountMicros, intent, reservation.IdempotencyRow, reservation.Loop, cancellationToken);
        }
        catch
        {
            await ReleaseAsync(table, reservedElsewhere, reservation.AmountMicros);
            throw;
        }

        if (primaryResult.Status == BeginStatus.Reserved)
        {
            return primaryResult with { Reserved = [.. reservedValues, .. primaryResult.Reserved] };
        }

        await ReleaseAsync(table, reservedElsewhere, reservation.AmountMicros);
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
        (AuditEntry Row, AuditEntry Outcome, long Delta)? written = null;

        SemaphoreSlim gate = _partitionGates.GetOrAdd(partition, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            for (int attempt = 0; attempt < MaxAttempts && written is null; attempt++)
            {
                AuditEntry current;
                ETag rowETag;
                if (known is (AuditEntry knownRow, ETag knownETag))
                {
                    (current, rowETag) = (knownRow, knownETag);
                }
                else
                {
                    NullableResponse<TableEntity> entity = await table.GetEntityIfExistsAsync<TableEntity>(partition, id, cancellationToken: cancellationToken);
                    if (!entity.HasValue)
                    {
                        return null;
                    }

                    (current, rowETag) = (AuditEntities.FromEntity(entity.Value!), entity.Value!.ETag);
                }

                if (decide(current) is not (AuditEntry decided, long held))
                {
                    return null;
                }

                // What the row recorded decides which counters move and from what, not what the caller planned.
                AuditEntry outcome = decided with { Counters = current.Counters, HeldMicros = held };
                if (outcome.PartitionKey != partition || outcome.Id != id)
                {
                    throw new InvalidOperationException("A transition rewrites its own row, in its own partition.");
                }

                long delta = held - current.HeldMicros;
                var states = new List<(string Row, long Used, ETag ETag)>();
                if (delta != 0)
                {
                    foreach (CounterRef counter in current.Counters.Where(c => c.Partition == partition))
                    {
                        (long used, ETag etag, bool _) = await CounterAsync(table, partition, counter.Row, attempt > 0, cancellationToken);
                        states.Add((counter.Row, used, etag));
                    }
                }

                List<TableTransactionAction> actions =
                [
                    new(TableTransactionActionType.UpdateReplace, AuditEntities.ToEntity(outcome), rowETag),
                    .. extra,
                    .. states.Select(s => Write(CounterEntity(partition, s.Row, s.Used + delta), s.ETag)),
                ];
                try
                {
                    Response<IReadOnlyList<Response>> response = await table.SubmitTransactionAsync(actions, cancellationToken);
                    Remember(actions, response.Value, states.Select(s => (s.Row, s.Used + delta)), null);
                    written = (current, outcome, delta);
                }
                catch (TableTransactionFailedException e) when (e.FailedTransactionActionIndex == 0 && e.Status is 412 or 404)
                {
                    // Someone else moved the row first (another resolve, the reconciler, the proxy's own outcome): read it again.
                    known = null;
                }
                catch (TableTransactionFailedException e) when (e.FailedTransactionActionIndex is int index && index > 0 && index <= extra.Count && e.Status == 404)
                {
                    // The idempotency marker is gone already; move the row without it.
                    extra.RemoveAt(index - 1);
                }
                catch (TableTransactionFailedException e) when (e.FailedTransactionActionIndex is int index && index > extra.Count && index < actions.Count && e.Status is 409 or 412)
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

        if (written is not (AuditEntry before, AuditEntry done, long moved))
        {
            throw new TimeoutException($"Could not move audit row '{id}' after {MaxAttempts} attempts under contention.");
        }

        // Counters in other partitions (monthly, cross-tenant) follow the row, which is the record that the transition
        // happened: a failure here leaves them holding the reservation (over-counted, never applied twice).
        if (moved != 0)
        {
            foreach (IGrouping<string, CounterRef> group in before.Counters.Where(c => c.Partition != partition).GroupBy(c => c.Partition))
            {
                await AdjustAsync(table, group.Key, [.. group.Select(c => c.Row)], moved, cancellationToken);
            }
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

    private static readonly string[] SpendColumns = ["Ts", "Tenant", "Label", "Vendor", "Outcome", "CostMicros", "FeeMicros"];

    public async Task<IReadOnlyList<AuditEntry>> ReadAsync(AuditPartitionQuery query, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Audit, cancellationToken);
        var clauses = new List<string>
        {
            TableClient.CreateQueryFilter($"PartitionKey eq {AuditEntry.PartitionFor(query.Tenant, query.Day)} and RowKey gt {query.FromRowKey} and RowKey lt {query.ToRowKey}"),
        };
        if (query.LabelPrefix.Length > 0)
        {
            clauses.Add(TableClient.CreateQueryFilter($"Label ge {query.LabelPrefix} and Label lt {TableFilters.UpperBound(query.LabelPrefix)}"));
        }

        if (query.Vendor is not null)
        {
            clauses.Add(TableClient.CreateQueryFilter($"Vendor eq {query.Vendor}"));
        }

        if (query.Outcome is not null)
        {
            clauses.Add(TableClient.CreateQueryFilter($"Outcome eq {query.Outcome}"));
        }

        var rows = new List<AuditEntry>();
        await foreach (TableEntity entity in table.QueryAsync<TableEntity>(
                           string.Join(" and ", clauses.Select(c => "(" + c + ")")), maxPerPage: Math.Min(query.Limit, 1000),
                           select: query.SpendColumnsOnly ? SpendColumns : null, cancellationToken: cancellationToken))
        {
            rows.Add(AuditEntities.FromEntity(entity));
            if (rows.Count >= query.Limit)
            {
                break;
            }
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

    public async Task<long> UsedAsync(CapCounter counter, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Audit, cancellationToken);
        return (await ReadCounterAsync(table, counter.Partition, counter.Row, cancellationToken)).Used;
    }

    private async Task<BeginResult> ReservePartitionAsync(
        TableClient table, string partition, List<CapCounter> counters, long amount, AuditEntry? intent, string? idempotencyRow, LoopGuard? loop,
        CancellationToken cancellationToken)
    {
        SemaphoreSlim gate = _partitionGates.GetOrAdd(partition, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            return await ReserveLockedAsync(table, partition, counters, amount, intent, idempotencyRow, loop, cancellationToken);
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<BeginResult> ReserveLockedAsync(
        TableClient table, string partition, List<CapCounter> counters, long amount, AuditEntry? intent, string? idempotencyRow, LoopGuard? loop,
        CancellationToken cancellationToken)
    {
        bool verify = false;
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            bool fresh = attempt > 0 || verify;
            var states = new List<(CapCounter Counter, long Used, ETag ETag, bool Cached)>();
            foreach (CapCounter counter in counters)
            {
                (long used, ETag etag, bool cached) = await CounterAsync(table, partition, counter.Row, fresh, cancellationToken);
                states.Add((counter, used, etag, cached));
            }

            (CapCounter Counter, long Used, ETag ETag, bool Cached) over = states.FirstOrDefault(s => s.Used + amount > s.Counter.LimitMicros);
            if (over.Counter is not null)
            {
                if (over.Cached)
                {
                    // Decide refusals on fresh values only: the cache may hold spend another instance released.
                    verify = true;
                    attempt--;
                    continue;
                }

                return await IsReplayAsync(table, partition, idempotencyRow, intent?.Timestamp, cancellationToken)
                    ? new BeginResult(BeginStatus.Replay)
                    : new BeginResult(BeginStatus.CapExceeded, over.Counter, over.Used);
            }

            var actions = new List<TableTransactionAction>();
            if (intent is not null)
            {
                actions.Add(new TableTransactionAction(TableTransactionActionType.Add, AuditEntities.ToEntity(intent)));
            }

            if (idempotencyRow is not null)
            {
                actions.Add(new TableTransactionAction(TableTransactionActionType.Add,
                    new TableEntity(partition, idempotencyRow) { ["KeyId"] = intent?.KeyId, ["AuditId"] = intent?.Id, ["At"] = intent?.Timestamp }));
            }

            string? loopTimes = null;
            if (loop is not null)
            {
                (string times, ETag loopETag, bool loopCached) = await LoopAsync(table, loop, fresh, cancellationToken);
                long now = (intent?.Timestamp ?? DateTimeOffset.UtcNow).ToUnixTimeMilliseconds();
                List<long> recent = [.. times.Split(',', StringSplitOptions.RemoveEmptyEntries)
                    .Select(t => long.Parse(t, CultureInfo.InvariantCulture)).Where(t => t > now - (long)loop.Window.TotalMilliseconds)];
                if (recent.Count >= loop.MaxCalls)
                {
                    if (loopCached)
                    {
                        verify = true;
                        attempt--;
                        continue;
                    }

                    return await IsReplayAsync(table, partition, idempotencyRow, intent?.Timestamp, cancellationToken)
                        ? new BeginResult(BeginStatus.Replay)
                        : new BeginResult(BeginStatus.LoopDetected);
                }

                recent.Add(now);
                loopTimes = string.Join(',', recent.Select(t => t.ToString(CultureInfo.InvariantCulture)));
                actions.Add(Write(new TableEntity(partition, loop.Row) { ["Times"] = loopTimes }, loopETag));
            }

            foreach ((CapCounter counter, long used, ETag etag, bool _) in states)
            {
                actions.Add(Write(CounterEntity(partition, counter.Row, used + amount), etag));
            }

            try
            {
                Response<IReadOnlyList<Response>> response = await table.SubmitTransactionAsync(actions, cancellationToken);
                Remember(actions, response.Value, states.Select(s => (s.Counter.Row, s.Used + amount)), loop is null ? null : (loop.Row, loopTimes!));
                if (intent is not null)
                {
                    RememberIntent(intent, response.Value[0].Headers.ETag);
                }

                return new BeginResult(BeginStatus.Reserved) { Reserved = [.. states.Select(s => (s.Counter, s.Used + amount))] };
            }
            catch (TableTransactionFailedException e) when (e.FailedTransactionActionIndex is int index && index < actions.Count)
            {
                string row = actions[index].Entity.RowKey;
                if (row == idempotencyRow && e.Status == 409)
                {
                    return new BeginResult(BeginStatus.Replay);
                }

                if (e.Status is 409 or 412 && (states.Any(s => s.Counter.Row == row) || row == loop?.Row))
                {
                    // Another instance moved first: look again.
                    _counters.TryRemove((partition, row), out _);
                    _loops.TryRemove((partition, row), out _);
                    await ConflictBackoffAsync(attempt, cancellationToken);
                    continue;
                }

                throw;
            }
        }

        throw new TimeoutException($"Could not reserve budget after {MaxAttempts} attempts under contention.");
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
        return await MarkedTheDayBeforeAsync(table, row.PartitionKey, Reservation.IdempotencyRowFor(row.KeyId, row.IdempotencyKey), row.Timestamp, cancellationToken);
    }

    /// <summary>Moves counters of one partition by <paramref name="delta"/>, conditional on their ETags.</summary>
    private async Task AdjustAsync(TableClient table, string partition, IReadOnlyList<string> rows, long delta, CancellationToken cancellationToken)
    {
        SemaphoreSlim gate = _partitionGates.GetOrAdd(partition, _ => new SemaphoreSlim(1, 1));
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

                List<TableTransactionAction> actions = [.. states.Select(s => Write(CounterEntity(partition, s.Row, s.Used + delta), s.ETag))];
                try
                {
                    Response<IReadOnlyList<Response>> response = await table.SubmitTransactionAsync(actions, cancellationToken);
                    Remember(actions, response.Value, states.Select(s => (s.Row, s.Used + delta)), null);
                    return;
                }
                catch (TableTransactionFailedException e) when (e.FailedTransactionActionIndex is int index && index < actions.Count && e.Status is 409 or 412)
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

        throw new TimeoutException($"Could not settle counters after {MaxAttempts} attempts under contention.");
    }

    private async Task ReleaseAsync(TableClient table, List<IGrouping<string, CapCounter>> groups, long amount)
    {
        foreach (IGrouping<string, CapCounter> group in groups)
        {
            await AdjustAsync(table, group.Key, [.. group.Select(c => c.Row)], -amount, CancellationToken.None);
        }
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

        NullableResponse<TableEntity> entity = await table.GetEntityIfExistsAsync<TableEntity>(loop.Partition, loop.Row, ["Times"], cancellationToken);
        (string times, ETag etag) = entity.HasValue ? (entity.Value!.GetString("Times") ?? string.Empty, entity.Value.ETag) : (string.Empty, default);
        _loops[(loop.Partition, loop.Row)] = (times, etag);
        return (times, etag, false);
    }

    /// <summary>A conditional write: an insert when the row did not exist, else a replace at the ETag read.</summary>
    private static TableTransactionAction Write(TableEntity entity, ETag etag) =>
        etag == default
            ? new TableTransactionAction(TableTransactionActionType.Add, entity)
            : new TableTransactionAction(TableTransactionActionType.UpdateReplace, entity, etag);

    private static TableEntity CounterEntity(string partition, string row, long used) => new(partition, row) { ["UsedMicros"] = used };

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
                _loops[(partition, loopRow)] = (times, etag);
            }
            else
            {
                _loops.TryRemove((partition, loopRow), out _);
            }
        }
    }
}
