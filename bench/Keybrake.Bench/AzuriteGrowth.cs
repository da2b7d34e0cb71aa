using System.Diagnostics;
using System.Globalization;
using Azure;
using Azure.Data.Tables;

namespace Keybrake.Bench;

/// <summary>
/// A calibration for the soak (scripts/soak.sh --azurite-growth): how Azurite's own rate of plain single-entity
/// writes changes as one table grows, with nothing of Keybrake's in the way: each entity is inserted and then
/// replaced at its ETag, as a call's intent row is by its outcome. The soak's Azurite path adds rows to
/// one audit table for every call; if the emulator's cost per request grows with the table, so does the soak's, and
/// that is Azurite's, not the proxy's (Table Storage indexes by partition and row key).
/// </summary>
internal static class AzuriteGrowth
{
    public static async Task RunAsync(string storage, int entities, int every)
    {
        var options = new TableClientOptions();
        options.Retry.MaxRetries = 2;
        var table = new TableClient(storage, "growth" + DateTime.UtcNow.ToString("HHmmss", CultureInfo.InvariantCulture), options);
        await table.CreateIfNotExistsAsync();

        // About an audit row's size and shape: a few strings and numbers, 100 partitions (the soak's tenants).
        string path = new('p', 120);
        Console.WriteLine($"Azurite growth: {entities:N0} single-entity inserts into one table, 64 workers, 100 partitions, a line every {every:N0}.");
        Console.WriteLine($"{"entities",10} {"insert+replace/s",17} {"median ms",10} {"failed",7} {"Azurite RSS MB",15}");
        long next = -1;
        for (int block = 0; block < entities / every; block++)
        {
            long end = (long)(block + 1) * every;
            var latencies = new double[every];
            int failures = 0;
            long began = Stopwatch.GetTimestamp();
            await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => Task.Run(async () =>
            {
                for (long i = Interlocked.Increment(ref next); i < end; i = Interlocked.Increment(ref next))
                {
                    long sent = Stopwatch.GetTimestamp();
                    try
                    {
                        var row = new TableEntity($"tenant{i % 100}", i.ToString("D12", CultureInfo.InvariantCulture))
                        {
                            ["Label"] = $"tenant{i % 100}:billing-agent:soak:run-{i}",
                            ["Path"] = path,
                            ["State"] = "reserved",
                            ["HeldMicros"] = 10_000L,
                        };
                        ETag etag = (await table.AddEntityAsync(row)).Headers.ETag ?? ETag.All;
                        row["State"] = "settled";
                        row["CostMicros"] = 10_000L;
                        await table.UpdateEntityAsync(row, etag, TableUpdateMode.Replace);
                    }
                    catch (RequestFailedException)
                    {
                        Interlocked.Increment(ref failures);
                    }

                    latencies[i % every] = Stopwatch.GetElapsedTime(sent).TotalMilliseconds;
                }
            })));
            next = end - 1;
            double rate = every / Stopwatch.GetElapsedTime(began).TotalSeconds;
            Array.Sort(latencies);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{end,10:N0} {rate,17:0} {latencies[every / 2],10:0.0} {failures,7} {Soak.AzuriteResidentMegabytes(),15}"));
        }
    }
}
