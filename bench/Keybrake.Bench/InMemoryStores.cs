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
        services.Replace(ServiceDescriptor.Singleton<IReservationLedger, InMemoryReservationLedger>());
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
