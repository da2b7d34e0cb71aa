using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Caps;

namespace Keybrake.Infrastructure.Storage;

/// <summary>
/// The journal: moves of counters outside a row's own partition (monthly and cross-tenant budgets). An entry in the
/// row's partition says a move is owed; a marker beside each counter it names makes each step happen once, whoever
/// (the proxy, or the reconciler finishing what an instance left) applies it.
/// </summary>
public sealed partial class TableReservationLedger
{
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
    private const string JournalReserve = "reserve";
    private const string JournalMove = "move";

    /// <summary>Test hook: awaited between the steps of a move across partitions, so a test can stop an instance there.</summary>
    public Func<string, Task>? StepHook { get; set; }

    public const string StepReservedElsewhere = "reserved-elsewhere";
    public const string StepMoved = "moved";

    private Task StepAsync(string step) => StepHook?.Invoke(step) ?? Task.CompletedTask;

    private static string JournalRow(string auditId, string step) => AuditRowKeys.JournalPrefix + auditId + "|" + step;

    private static TableEntity JournalEntity(string partition, string row, string kind, long delta, IEnumerable<CounterRef> counters, DateTimeOffset at) => new(partition, row)
    {
        ["Kind"] = kind,
        ["Delta"] = delta,
        ["Counters"] = JsonSerializer.Serialize(counters.Select(c => new[] { c.Partition, c.Row })),
        ["At"] = at,
    };

    /// <summary>The marker of one journal entry's step in a counter's partition; it stays, so a late retry of the step is a no-op.</summary>
    private static TableEntity MarkerEntity(string counterPartition, string journalPartition, string journalRow, DateTimeOffset at) =>
        new(counterPartition, "~applied|" + journalPartition + "|" + journalRow[AuditRowKeys.JournalPrefix.Length..]) { ["At"] = at };

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

    /// <summary>
    /// Finishes the journal entries of one partition (as read) written before <paramref name="writtenBefore"/>: a move
    /// whose row moved is applied to the counters it names, a reservation whose intent was never written is given back.
    /// </summary>
    private async Task<int> FinishJournalsAsync(TableClient table, string partition, IReadOnlyList<TableEntity> journals, DateTimeOffset writtenBefore, CancellationToken cancellationToken)
    {
        int finished = 0;
        foreach (TableEntity journal in journals)
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
}
