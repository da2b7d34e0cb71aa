using Azure;
using Azure.Data.Tables;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Caps;
using Keybrake.Domain.Common;

namespace Keybrake.Infrastructure.Storage;

/// <summary>
/// Group commit, the planning half: one batch of waiting ops turned into one entity-group transaction, each call
/// decided in arrival order on the running counter values, and a failed action traced back to its call.
/// </summary>
public sealed partial class TableReservationLedger
{
    /// <summary>One counter or loop window as this batch sees it: the stored value and ETag, and the running value after the ops planned.</summary>
    private sealed class Slot
    {
        public long Used;
        public string Times = string.Empty;
        public ETag ETag;
        public bool Cached;
        public bool Written;
    }

    private enum Role
    {
        Intent,
        Marker,
        Extra,
        Row,
        Index,
        Journal,
        Counter,
        Loop,
    }

    /// <summary>
    /// Plans and commits one batch until every op in it is answered; returns the ops that did not fit, for the next
    /// transaction. Decisions are final only once the transaction that carries (or, for a refusal, was planned beside)
    /// them commits: any failure re-plans on what is then known.
    /// </summary>
    private async Task<List<PartitionOp>> CommitBatchAsync(TableClient table, string partition, List<PartitionOp> batch)
    {
        var live = new List<PartitionOp>(batch);
        var stale = new HashSet<string>(StringComparer.Ordinal);

        // Rows found without an unsettled index entry (written by a version before the index, and not backfilled yet).
        var unindexed = new HashSet<string>(StringComparer.Ordinal);
        for (int attempt = 0; live.Count > 0; attempt++)
        {
            if (attempt >= MaxAttempts)
            {
                var timeout = new TimeoutException($"Could not commit to partition '{partition}' after {MaxAttempts} attempts under contention.");
                live.ForEach(op => op.Fail(timeout));
                return [];
            }

            var counters = new Dictionary<string, Slot>(StringComparer.Ordinal);
            var loops = new Dictionary<string, Slot>(StringComparer.Ordinal);
            var actions = new List<TableTransactionAction>();
            var owners = new List<(PartitionOp? Op, Role Role, int Index)>();
            var answers = new List<Action<IReadOnlyList<Response>>>();
            var deferred = new List<PartitionOp>();
            bool replan = false;

            async Task<Slot> CounterSlotAsync(string row)
            {
                if (!counters.TryGetValue(row, out Slot? slot))
                {
                    (long used, ETag etag, bool cached) = await CounterAsync(table, partition, row, stale.Remove(row), CancellationToken.None);
                    counters[row] = slot = new Slot { Used = used, ETag = etag, Cached = cached };
                }

                return slot;
            }

            void Add(TableTransactionAction action, PartitionOp? op, Role role, int index = 0)
            {
                actions.Add(action);
                owners.Add((op, role, index));
            }

            foreach (PartitionOp op in live)
            {
                if (deferred.Count > 0)
                {
                    deferred.Add(op);
                    continue;
                }

                if (op is ReserveOp r)
                {
                    var slots = new List<(CapCounter Counter, Slot Slot)>();
                    foreach (CapCounter counter in r.Counters)
                    {
                        slots.Add((counter, await CounterSlotAsync(counter.Row)));
                    }

                    (CapCounter Counter, Slot Slot) over = slots.FirstOrDefault(s => s.Slot.Used + r.Amount > s.Counter.LimitMicros);
                    if (over.Counter is not null)
                    {
                        if (over.Slot.Cached)
                        {
                            // Decide refusals on fresh values only: the cache may hold spend another instance released.
                            stale.Add(over.Counter.Row);
                            replan = true;
                            break;
                        }

                        long used = over.Slot.Used;
                        r.ReplayChecked ??= await IsReplayAsync(table, partition, r.IdempotencyRow, r.Intent?.Timestamp, CancellationToken.None);
                        answers.Add(_ => r.Done.TrySetResult(r.ReplayChecked == true ? new BeginResult(BeginStatus.Replay) : new BeginResult(BeginStatus.CapExceeded, over.Counter, used)));
                        continue;
                    }

                    Slot? loopSlot = null;
                    string? counted = null;
                    if (r.Loop is LoopGuard loop)
                    {
                        if (!loops.TryGetValue(loop.Row, out loopSlot))
                        {
                            (string times, ETag etag, bool cached) = await LoopAsync(table, loop, stale.Remove(loop.Row), CancellationToken.None);
                            loops[loop.Row] = loopSlot = new Slot { Times = times, ETag = etag, Cached = cached };
                        }

                        (bool tripped, counted) = LoopWindow.Add(loopSlot.Times, r.Intent?.Timestamp ?? DateTimeOffset.UtcNow, loop.Window, loop.MaxCalls);
                        if (tripped)
                        {
                            if (loopSlot.Cached)
                            {
                                stale.Add(loop.Row);
                                replan = true;
                                break;
                            }

                            r.ReplayChecked ??= await IsReplayAsync(table, partition, r.IdempotencyRow, r.Intent?.Timestamp, CancellationToken.None);
                            answers.Add(_ => r.Done.TrySetResult(new BeginResult(r.ReplayChecked == true ? BeginStatus.Replay : BeginStatus.LoopDetected)));
                            continue;
                        }
                    }

                    int adds = r.MaxActions - slots.Count(s => s.Slot.Written) - (loopSlot?.Written == true ? 1 : 0);
                    if (actions.Count + counters.Values.Count(s => s.Written) + loops.Values.Count(s => s.Written) + adds > MaxBatchActions)
                    {
                        deferred.Add(op);
                        continue;
                    }

                    int intentIndex = actions.Count;
                    if (r.Intent is not null)
                    {
                        Add(new TableTransactionAction(TableTransactionActionType.Add, AuditEntities.ToEntity(r.Intent)), r, Role.Intent);
                    }

                    if (r.IdempotencyRow is not null)
                    {
                        Add(new TableTransactionAction(TableTransactionActionType.Add,
                            new TableEntity(partition, r.IdempotencyRow) { ["KeyId"] = r.Intent?.KeyId, ["AuditId"] = r.Intent?.Id, ["At"] = r.Intent?.Timestamp }), r, Role.Marker);
                    }

                    for (int i = 0; i < r.Extra.Count; i++)
                    {
                        Add(r.Extra[i], r, Role.Extra, i);
                    }

                    if (loopSlot is not null)
                    {
                        loopSlot.Times = counted!;
                        loopSlot.Written = true;
                    }

                    var reserved = new List<(CapCounter Counter, long Used)>();
                    foreach ((CapCounter counter, Slot slot) in slots)
                    {
                        slot.Used += r.Amount;
                        slot.Written = true;
                        reserved.Add((counter, slot.Used));
                    }

                    answers.Add(responses =>
                    {
                        if (r.Intent is not null)
                        {
                            RememberIntent(r.Intent, responses[intentIndex].Headers.ETag);
                        }

                        r.Done.TrySetResult(new BeginResult(BeginStatus.Reserved) { Reserved = reserved });
                    });
                }
                else if (op is MoveOp m)
                {
                    if (m.Known is null)
                    {
                        NullableResponse<TableEntity> entity = await table.GetEntityIfExistsAsync<TableEntity>(partition, m.Id, cancellationToken: CancellationToken.None);
                        if (!entity.HasValue)
                        {
                            answers.Add(_ => m.Done.TrySetResult(null));
                            continue;
                        }

                        m.Known = (AuditEntities.FromEntity(entity.Value!), entity.Value!.ETag);
                    }

                    (AuditEntry current, ETag rowETag) = m.Known.Value;
                    if (m.Decide(current) is not (AuditEntry decided, long held))
                    {
                        answers.Add(_ => m.Done.TrySetResult(null));
                        continue;
                    }

                    // What the row recorded decides which counters move and from what, not what the caller planned.
                    AuditEntry outcome = decided with { Counters = current.Counters, HeldMicros = held };
                    if (outcome.PartitionKey != partition || outcome.Id != m.Id)
                    {
                        answers.Add(_ => m.Fail(new InvalidOperationException("A transition rewrites its own row, in its own partition.")));
                        continue;
                    }

                    long delta = held - current.HeldMicros;
                    var slots = new List<Slot>();
                    if (delta != 0)
                    {
                        foreach (CounterRef counter in current.Counters.Where(c => c.Partition == partition))
                        {
                            slots.Add(await CounterSlotAsync(counter.Row));
                        }
                    }

                    // Counters elsewhere move after this transaction, through a journal entry written in it: whoever stops
                    // half-way, the reconciler finishes the move, and markers beside those counters make it happen once.
                    List<CounterRef> elsewhere = delta == 0 ? [] : [.. current.Counters.Where(c => c.Partition != partition)];
                    TableEntity? journal = elsewhere.Count == 0 ? null
                        : JournalEntity(partition, JournalRow(m.Id, RandomTokens.Base32(8)), JournalMove, delta, elsewhere, outcome.Timestamp);

                    // The row's unsettled index entry follows the row in its transaction: a copy of it while it is not
                    // final, removed by the move that makes it final, so the reconciler's index read is the rows' truth.
                    TableTransactionAction? index = outcome.Unsettled
                        ? new TableTransactionAction(TableTransactionActionType.UpsertReplace, AuditEntities.ToUnsettledEntity(outcome))
                        : current.Unsettled && !unindexed.Contains(m.Id)
                            ? new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(partition, AuditRowKeys.Unsettled(m.Id)), ETag.All)
                            : null;

                    int adds = 1 + m.Extra.Count + (journal is null ? 0 : 1) + (index is null ? 0 : 1) + slots.Count(s => !s.Written);
                    if (actions.Count + counters.Values.Count(s => s.Written) + loops.Values.Count(s => s.Written) + adds > MaxBatchActions)
                    {
                        deferred.Add(op);
                        continue;
                    }

                    Add(new TableTransactionAction(TableTransactionActionType.UpdateReplace, AuditEntities.ToEntity(outcome), rowETag), m, Role.Row);
                    if (index is not null)
                    {
                        Add(index, m, Role.Index);
                    }

                    for (int i = 0; i < m.Extra.Count; i++)
                    {
                        Add(m.Extra[i], m, Role.Extra, i);
                    }

                    if (journal is not null)
                    {
                        Add(new TableTransactionAction(TableTransactionActionType.Add, journal), m, Role.Journal);
                    }

                    foreach (Slot slot in slots)
                    {
                        slot.Used += delta;
                        slot.Written = true;
                    }

                    answers.Add(_ => m.Done.TrySetResult((outcome, journal)));
                }
            }

            if (replan)
            {
                continue;
            }

            foreach ((string row, Slot slot) in counters)
            {
                if (slot.Written)
                {
                    Add(Write(CounterEntity(partition, row, slot.Used), slot.ETag), null, Role.Counter);
                }
            }

            foreach ((string row, Slot slot) in loops)
            {
                if (slot.Written)
                {
                    Add(Write(new TableEntity(partition, row) { [LoopColumn] = slot.Times }, slot.ETag), null, Role.Loop);
                }
            }

            IReadOnlyList<Response> responses = [];
            if (actions.Count > 0)
            {
                try
                {
                    responses = (await table.SubmitTransactionAsync(actions, CancellationToken.None)).Value;
                }
                catch (TableTransactionFailedException e) when (e.FailedTransactionActionIndex is int index && index >= 0 && index < actions.Count)
                {
                    (PartitionOp? failed, Role role, int extraIndex) = owners[index];
                    string row = actions[index].Entity.RowKey;
                    switch (role)
                    {
                        case Role.Counter or Role.Loop when e.Status is 409 or 412:
                            // Another instance moved first: read that one again and plan the whole batch anew.
                            _counters.TryRemove((partition, row), out _);
                            _loops.TryRemove((partition, row), out _);
                            stale.Add(row);
                            await ConflictBackoffAsync(attempt, CancellationToken.None);
                            break;
                        case Role.Marker when e.Status == 409:
                            // Seen before, committed by an earlier call: the vendor replays its first answer.
                            ((ReserveOp)failed!).Done.TrySetResult(new BeginResult(BeginStatus.Replay));
                            live.Remove(failed);
                            break;
                        case Role.Row when e.Status is 412 or 404:
                            // Someone else moved the row first (another resolve, the reconciler, the proxy's own outcome): read it again.
                            ((MoveOp)failed!).Known = null;

                            // A backfill may have indexed it meanwhile (its write changes the row's ETag too).
                            unindexed.Remove(((MoveOp)failed).Id);
                            break;
                        case Role.Index when e.Status == 404:
                            // The row predates the index (nothing to remove): move it without.
                            unindexed.Add(((MoveOp)failed!).Id);
                            break;
                        case Role.Extra when failed is MoveOp move && e.Status == 404:
                            // The idempotency marker is gone already; move the row without it.
                            move.Extra.RemoveAt(extraIndex);
                            break;
                        default:
                            if (failed is null)
                            {
                                throw;
                            }

                            failed.Fail(e);
                            live.Remove(failed);
                            break;
                    }

                    continue;
                }

                Remember(actions, responses, counters.Where(c => c.Value.Written).Select(c => (c.Key, c.Value.Used)), null);
                RememberLoops(partition, actions, responses, loops);
            }

            foreach (Action<IReadOnlyList<Response>> answer in answers)
            {
                answer(responses);
            }

            return deferred;
        }

        return [];
    }

    private void RememberLoops(string partition, List<TableTransactionAction> actions, IReadOnlyList<Response> responses, Dictionary<string, Slot> loops)
    {
        for (int i = 0; i < actions.Count && i < responses.Count; i++)
        {
            if (loops.TryGetValue(actions[i].Entity.RowKey, out Slot? slot) && slot.Written)
            {
                if (responses[i].Headers.ETag is ETag etag)
                {
                    RememberLoop(partition, actions[i].Entity.RowKey, slot.Times, etag);
                }
                else
                {
                    _loops.TryRemove((partition, actions[i].Entity.RowKey), out _);
                }
            }
        }
    }
}
