using System.Collections.Concurrent;
using Keybrake.Domain.Alerts;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Caps;
using Keybrake.Domain.Keys;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Keybrake.Bench;

/// <summary>
/// The storage interfaces the proxy's hot path uses, backed by memory, so that scenario 3 measures the
/// pipeline's own CPU cost with storage taken out. They keep the semantics the proxy relies on (a
/// reservation refuses past a limit, an idempotency key replays, the loop breaker counts identical calls),
/// serialised by one lock per partition, as the table store's entity-group transactions are. Only what a
/// proxied call and key issuance touch is implemented.
/// </summary>
internal static class InMemoryStores
{
    public static void Replace(IServiceCollection services)
    {
        services.Replace(ServiceDescriptor.Singleton<IVaultKeyStore, MemoryKeyStore>());
        services.Replace(ServiceDescriptor.Singleton<IReservationLedger, MemoryAuditLog>());
        services.Replace(ServiceDescriptor.Singleton<IBudgetStore, MemoryBudgetStore>());
        services.Replace(ServiceDescriptor.Singleton<IAlertStore, MemoryAlertStore>());
        services.Replace(ServiceDescriptor.Singleton<ICapPolicyStore, MemoryCapPolicyStore>());
    }
}

internal sealed class MemoryKeyStore : IVaultKeyStore
{
    private readonly ConcurrentDictionary<string, VaultKey> _keys = new(StringComparer.Ordinal);

    public Task CreateAsync(VaultKey key, CancellationToken cancellationToken) =>
        _keys.TryAdd(key.Id, key) ? Task.CompletedTask : throw new InvalidOperationException($"Key {key.Id} exists.");

    public Task<VaultKey?> GetAsync(string id, CancellationToken cancellationToken) =>
        Task.FromResult(_keys.TryGetValue(id, out VaultKey? key) ? key : null);

    public Task<KeyPage> ListAsync(KeyQuery query, CancellationToken cancellationToken) => throw NotInBench();

    public Task<bool> RevokeAsync(string id, DateTimeOffset at, string revokedBy, CancellationToken cancellationToken) => throw NotInBench();

    public Task<IReadOnlyList<string>> TenantsAsync(CancellationToken cancellationToken) => throw NotInBench();

    public Task<int> RevokeMatchingAsync(KeyQuery query, DateTimeOffset at, string revokedBy, CancellationToken cancellationToken) => throw NotInBench();

    internal static NotSupportedException NotInBench() => new("The benchmark's in-memory stores serve the proxy's hot path only.");
}

internal sealed class MemoryAuditLog : IReservationLedger
{
    private readonly ConcurrentDictionary<string, Partition> _partitions = new(StringComparer.Ordinal);

    public Task<BeginResult> BeginAsync(AuditEntry intent, Reservation reservation, CancellationToken cancellationToken)
    {
        long amount = Math.Max(0, reservation.AmountMicros);
        IReadOnlyList<CapCounter> counters = amount > 0 ? reservation.Counters : [];
        Partition[] touched = [.. counters.Select(c => c.Partition).Append(intent.PartitionKey).Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal).Select(PartitionOf)];

        // Locks taken in partition order, so two calls over the same partitions cannot deadlock.
        foreach (Partition p in touched)
        {
            p.Gate.Enter();
        }

        try
        {
            Partition primary = PartitionOf(intent.PartitionKey);
            bool replay = reservation.IdempotencyRow is not null && primary.Rows.ContainsKey(reservation.IdempotencyRow);
            if (replay)
            {
                primary.Rows[intent.Id] = intent with { Reason = "idempotent_replay", CostMicros = 0 };
                return Task.FromResult(new BeginResult(BeginStatus.Replay));
            }

            foreach (CapCounter counter in counters)
            {
                long used = PartitionOf(counter.Partition).Counters.GetValueOrDefault(counter.Row);
                if (used + amount > counter.LimitMicros)
                {
                    return Task.FromResult(new BeginResult(BeginStatus.CapExceeded, counter, used));
                }
            }

            if (reservation.Loop is LoopGuard loop)
            {
                long now = intent.Timestamp.ToUnixTimeMilliseconds();
                List<long> recent = primary.Loops.TryGetValue(loop.Row, out List<long>? times)
                    ? [.. times.Where(t => t > now - (long)loop.Window.TotalMilliseconds)]
                    : [];
                if (recent.Count >= loop.MaxCalls)
                {
                    return Task.FromResult(new BeginResult(BeginStatus.LoopDetected));
                }

                recent.Add(now);
                primary.Loops[loop.Row] = recent;
            }

            var reserved = new List<(CapCounter Counter, long Used)>();
            foreach (CapCounter counter in counters)
            {
                Dictionary<string, long> values = PartitionOf(counter.Partition).Counters;
                values[counter.Row] = values.GetValueOrDefault(counter.Row) + amount;
                reserved.Add((counter, values[counter.Row]));
            }

            if (reservation.IdempotencyRow is not null)
            {
                primary.Rows[reservation.IdempotencyRow] = null;
            }

            primary.Rows[intent.Id] = intent;
            return Task.FromResult(new BeginResult(BeginStatus.Reserved) { Reserved = reserved });
        }
        finally
        {
            foreach (Partition p in touched)
            {
                p.Gate.Exit();
            }
        }
    }

    public Task CompleteAsync(AuditEntry outcome, Reservation reservation, long heldMicros, bool releaseIdempotencyKey, CancellationToken cancellationToken)
    {
        long delta = reservation.AmountMicros > 0 ? heldMicros - reservation.AmountMicros : 0;
        if (delta != 0)
        {
            foreach (CapCounter counter in reservation.Counters)
            {
                Partition p = PartitionOf(counter.Partition);
                lock (p.Gate)
                {
                    p.Counters[counter.Row] = p.Counters.GetValueOrDefault(counter.Row) + delta;
                }
            }
        }

        Partition primary = PartitionOf(outcome.PartitionKey);
        lock (primary.Gate)
        {
            primary.Rows[outcome.Id] = outcome;
            if (releaseIdempotencyKey && reservation.IdempotencyRow is not null)
            {
                primary.Rows.Remove(reservation.IdempotencyRow);
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>The reconciler and operator resolution are off the hot path the benchmark measures.</summary>
    public Task<AuditEntry?> TransitionAsync(string tenant, string id, Func<AuditEntry, (AuditEntry Outcome, long HeldMicros)?> decide, CancellationToken cancellationToken) =>
        throw MemoryKeyStore.NotInBench();

    public Task<bool> ReplaysEarlierCallAsync(AuditEntry row, CancellationToken cancellationToken) => throw MemoryKeyStore.NotInBench();

    public Task<int> FinishJournalsAsync(string tenant, DateTimeOffset day, DateTimeOffset writtenBefore, CancellationToken cancellationToken) =>
        throw MemoryKeyStore.NotInBench();

    public Task<IReadOnlyList<(CounterRef Counter, long Used)>> CountersAsync(string partition, CancellationToken cancellationToken) =>
        throw MemoryKeyStore.NotInBench();

    public Task RecordDenialAsync(AuditEntry denial, CancellationToken cancellationToken)
    {
        Partition p = PartitionOf(denial.PartitionKey);
        lock (p.Gate)
        {
            p.Rows[denial.Id] = denial;
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<AuditEntry>> UnsettledAsync(string tenant, DateTimeOffset day, CancellationToken cancellationToken) =>
        throw MemoryKeyStore.NotInBench();

    public Task<AuditEntry?> GetAsync(string tenant, string id, CancellationToken cancellationToken)
    {
        AuditEntry? found = null;
        if (AuditEntry.TimeOfId(id) is DateTimeOffset at && _partitions.TryGetValue(AuditEntry.PartitionFor(tenant, at), out Partition? p))
        {
            lock (p.Gate)
            {
                found = p.Rows.GetValueOrDefault(id);
            }
        }

        return Task.FromResult(found);
    }

    public Task<long> UsedAsync(CapCounter counter, CancellationToken cancellationToken)
    {
        Partition p = PartitionOf(counter.Partition);
        lock (p.Gate)
        {
            return Task.FromResult(p.Counters.GetValueOrDefault(counter.Row));
        }
    }

    private Partition PartitionOf(string key) => _partitions.GetOrAdd(key, static _ => new Partition());

    /// <summary>One table partition: audit rows and idempotency markers (null values), counters, loop windows.</summary>
    private sealed class Partition
    {
        public Lock Gate { get; } = new();

        public Dictionary<string, AuditEntry?> Rows { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, long> Counters { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, List<long>> Loops { get; } = new(StringComparer.Ordinal);
    }
}

internal sealed class MemoryBudgetStore : IBudgetStore
{
    private readonly ConcurrentDictionary<(string Scope, string Prefix), Budget> _budgets = new();

    public Task<bool> PutAsync(Budget budget, CancellationToken cancellationToken)
    {
        _budgets[(budget.Scope, budget.Prefix)] = budget;
        return Task.FromResult(true);
    }

    public Task<Budget?> GetAsync(string prefix, CancellationToken cancellationToken) =>
        Task.FromResult(_budgets.Values.FirstOrDefault(b => b.Prefix == prefix));

    public Task<bool> DeleteAsync(Budget budget, CancellationToken cancellationToken) =>
        Task.FromResult(_budgets.TryRemove((budget.Scope, budget.Prefix), out _));

    public Task<IReadOnlyList<Budget>> ListAsync(string? scope, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<Budget>>([.. _budgets.Where(b => scope is null || b.Key.Scope == scope).Select(b => b.Value)]);
}

internal sealed class MemoryAlertStore : IAlertStore
{
    private readonly ConcurrentDictionary<string, Alert> _alerts = new(StringComparer.Ordinal);

    public Task<bool> RecordAsync(Alert alert, CancellationToken cancellationToken) => Task.FromResult(_alerts.TryAdd(alert.Id, alert));

    public Task<IReadOnlyList<Alert>> ListAsync(string tenant, DateTimeOffset since, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<Alert>>([.. _alerts.Values.Where(a => a.Tenant == tenant && a.FiredAt >= since)]);

    public Task<IReadOnlyList<Alert>> DueAsync(DateTimeOffset now, int max, CancellationToken cancellationToken) => throw MemoryKeyStore.NotInBench();

    public Task<Alert?> ClaimAsync(Alert due, string body, DateTimeOffset leaseUntil, CancellationToken cancellationToken) => throw MemoryKeyStore.NotInBench();

    public Task SaveAttemptAsync(Alert attempt, CancellationToken cancellationToken) => throw MemoryKeyStore.NotInBench();
}

internal sealed class MemoryCapPolicyStore : ICapPolicyStore
{
    public Task<CapPolicy?> GetPolicyAsync(CancellationToken cancellationToken) => Task.FromResult<CapPolicy?>(null);

    public Task PutPolicyAsync(CapPolicy policy, CancellationToken cancellationToken) => throw MemoryKeyStore.NotInBench();

    public Task<string?> GetPlanAsync(string tenant, CancellationToken cancellationToken) => Task.FromResult<string?>(null);

    public Task PutPlanAsync(string tenant, string plan, CancellationToken cancellationToken) => throw MemoryKeyStore.NotInBench();
}
