using System.Collections.Concurrent;
using Azure.Data.Tables;

namespace Keybrake.Infrastructure.Storage;

/// <summary>
/// Hands out the app's table clients. Tables are created on first use (once per process), so a fresh
/// storage account or Azurite needs no provisioning step; a table that vanishes later is re-created by
/// <see cref="MissingTableHealer"/> on the request that finds it missing.
/// </summary>
public sealed class KeybrakeTables(TableServiceClient service, TableOptions options)
{
    public const string Keys = "keys";
    public const string Tokens = "tokens";
    public const string Audit = "audit";
    public const string Budgets = "budgets";
    public const string Settings = "settings";
    public const string Tenants = "tenants";
    public const string Alerts = "alerts";
    public const string Rollups = "rollups";
    public const string Exports = "exports";
    public const string Owners = "owners";
    public const string OperatorAudit = "operatoraudit";
    public const string Activity = "activity";
    public const string RollupMonths = "rollupmonths";

    /// <summary>Every table the app uses, so a vanished one can be re-created (<see cref="MissingTableHealer"/>).</summary>
    public static readonly IReadOnlyList<string> All = [Keys, Tokens, Audit, Budgets, Settings, Tenants, Alerts, Rollups, Exports, OperatorAudit, Owners, Activity, RollupMonths];

    private readonly ConcurrentDictionary<string, Lazy<Task<TableClient>>> _tables = new(StringComparer.Ordinal);

    public TableServiceClient Service { get; } = service;

    public string Prefix { get; } = options.Prefix;

    public Task<TableClient> GetAsync(string name, CancellationToken cancellationToken)
    {
        Lazy<Task<TableClient>> lazy = _tables.GetOrAdd(name, n => new Lazy<Task<TableClient>>(() => CreateAsync(n)));
        Task<TableClient> task = lazy.Value;
        if (task.IsFaulted || task.IsCanceled)
        {
            // A failed creation (storage down) must not poison the process: try again next time.
            _tables.TryRemove(new KeyValuePair<string, Lazy<Task<TableClient>>>(name, lazy));
        }

        return task.WaitAsync(cancellationToken);
    }

    private async Task<TableClient> CreateAsync(string name)
    {
        TableClient client = Service.GetTableClient(Prefix + name);
        await client.CreateIfNotExistsAsync(CancellationToken.None);
        return client;
    }
}
