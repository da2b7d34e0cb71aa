using Azure.Data.Tables;

namespace Keybrake.Tests.Support;

/// <summary>The Azurite that the test command starts; tables get a unique prefix per test host.</summary>
public static class TestStorage
{
    public static string ConnectionString { get; } =
        Environment.GetEnvironmentVariable("KEYBRAKE_TEST_STORAGE") is { Length: > 0 } value ? value : "UseDevelopmentStorage=true";

    public static string NewPrefix() => "t" + Guid.NewGuid().ToString("N")[..12];

    public static TableServiceClient Service() => new(ConnectionString);

    /// <summary>Every entity in every table with the given prefix, as raw property bags.</summary>
    public static async Task<List<TableEntity>> AllEntitiesAsync(string prefix)
    {
        TableServiceClient service = Service();
        var entities = new List<TableEntity>();
        await foreach (Azure.Data.Tables.Models.TableItem table in service.QueryAsync(t => t.Name.CompareTo(prefix) >= 0))
        {
            if (!table.Name.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }

            await foreach (TableEntity entity in service.GetTableClient(table.Name).QueryAsync<TableEntity>())
            {
                entities.Add(entity);
            }
        }

        return entities;
    }
}
