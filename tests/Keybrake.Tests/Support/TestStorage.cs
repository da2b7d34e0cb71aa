using Azure.Data.Tables;

namespace Keybrake.Tests.Support;

/// <summary>The Azurite that the test command starts; tables get a unique prefix per test host.</summary>
public static class TestStorage
{
    public static string ConnectionString { get; } =
        Environment.GetEnvironmentVariable("KEYBRAKE_TEST_STORAGE") is { Length: > 0 } value ? value : "UseDevelopmentStorage=true";

    public static string NewPrefix() => "t" + Guid.NewGuid().ToString("N")[..12];

    public static TableServiceClient Service() => new(ConnectionString);

    /// <summary>
    /// The names of the tables with the given prefix. The query is bounded on both sides: Azurite holds every
    /// test host's tables, thousands by the end of a run, and an open-ended range would list half of them.
    /// </summary>
    public static async Task<List<string>> TablesAsync(string prefix)
    {
        var names = new List<string>();
        string end = prefix + "~"; // table names are letters and digits, all below '~'
        await foreach (Azure.Data.Tables.Models.TableItem table in Service().QueryAsync(t => t.Name.CompareTo(prefix) >= 0 && t.Name.CompareTo(end) < 0))
        {
            if (table.Name.StartsWith(prefix, StringComparison.Ordinal))
            {
                names.Add(table.Name);
            }
        }

        return names;
    }

    /// <summary>Every entity in every table with the given prefix, as raw property bags.</summary>
    public static async Task<List<TableEntity>> AllEntitiesAsync(string prefix)
    {
        TableServiceClient service = Service();
        var entities = new List<TableEntity>();
        foreach (string table in await TablesAsync(prefix))
        {
            await foreach (TableEntity entity in service.GetTableClient(table).QueryAsync<TableEntity>())
            {
                entities.Add(entity);
            }
        }

        return entities;
    }
}
