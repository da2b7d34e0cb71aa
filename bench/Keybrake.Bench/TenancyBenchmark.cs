using System.Diagnostics;
using Azure;
using Azure.Data.Tables;
using Keybrake.Domain.Audit;

namespace Keybrake.Bench;

/// <summary>One tenancy scenario: throughput on real storage, what it cost in storage requests, and the money checks.</summary>
internal sealed record TenancyResult(
    string Spread, int Instances, int LatencyMs, Segment Segment,
    long ChargedMicros, long CountedMicros, int VendorCharges, int AuditRows, int InDoubtRows, long Transactions)
{
    /// <summary>Money the vendor moved that no counter holds: spend that escaped the caps.</summary>
    public long UncountedMicros => Math.Max(0, ChargedMicros - CountedMicros);

    /// <summary>Charges the vendor made with no audit row recording them as forwarded or in doubt.</summary>
    public int LostAuditRows => Math.Max(0, VendorCharges - AuditRows - InDoubtRows);
}

/// <summary>Plain single-entity inserts per second against the same Azurite, at the same concurrency and partition spread.</summary>
/// <param name="AloneMs">The median of inserts sent one at a time: what the relay adds shows here, not under load.</param>
internal sealed record FloorResult(string Spread, int Partitions, int LatencyMs, double InsertsPerSecond, int Failures, double AloneMs);

internal sealed record TenancyResults(IReadOnlyList<TenancyResult> Scenarios, IReadOnlyList<FloorResult> Floors, int Concurrency, TimeSpan Duration);

/// <summary>
/// Issue #21's storage scenarios: one hot tenant (every worker on one tenant's keys) and 8 tenants, each on one
/// and on two Keybrake instances sharing the tables, each straight on Azurite and with every storage request
/// held 5 ms by a relay (in-region latency); and the Azurite floor (plain inserts) for each spread and latency.
/// Every tenant has a daily budget, so every call also reserves on the tenant's counter, as a real fleet's does.
/// </summary>
internal static class TenancyBenchmark
{
    public const int RelayDelayMs = 5;

    public static async Task<TenancyResults> RunAsync(Targets targets, LoadRunner runner, BenchSettings settings)
    {
        int concurrency = settings.Concurrency.Max();
        TimeSpan duration = settings.SegmentDuration * 2;
        (LatencyRelay relay, string relayed) = LatencyRelay.InFrontOfTables(settings.Storage, TimeSpan.FromMilliseconds(RelayDelayMs));
        await using (relay)
        {
            var hosts = new Dictionary<int, Uri[]>
            {
                [0] = [targets.AzuriteBase, await targets.StartAzuriteInstanceAsync(settings.Storage)],
                [RelayDelayMs] = [await targets.StartAzuriteInstanceAsync(relayed), await targets.StartAzuriteInstanceAsync(relayed)],
            };

            var floors = new List<FloorResult>();
            var scenarios = new List<TenancyResult>();
            int run = 0;
            foreach (int latency in new[] { 0, RelayDelayMs })
            {
                foreach ((string spread, int tenants) in new[] { ("one hot tenant", 1), ("8 tenants", 8) })
                {
                    string storage = latency == 0 ? settings.Storage : relayed;

                    // A warm-up first, as the scenarios get: connections opened, code jitted, the table created.
                    await FloorAsync(storage, targets.TablePrefix, spread, tenants, latency, concurrency, settings.WarmupDuration);
                    floors.Add(await FloorAsync(storage, targets.TablePrefix, spread, tenants, latency, concurrency, duration));
                    Console.WriteLine($"  floor {spread,-15} {latency} ms: {floors[^1].InsertsPerSecond,6:0} inserts/s, one insert alone {floors[^1].AloneMs:0.0} ms");
                    foreach (int instances in new[] { 1, 2 })
                    {
                        run++;
                        TenancyResult result = await ScenarioAsync(targets, runner, settings, hosts[latency], instances, spread, tenants, latency, run, concurrency, duration);
                        scenarios.Add(result);
                        Console.WriteLine($"  {spread,-15} {instances} instance(s) {latency} ms: {result.Segment.RequestsPerSecond,6:0} calls/s, " +
                                          $"{(double)result.Segment.TableRequests / Math.Max(1, result.Segment.Completed):0.00} storage requests/call, {result.Segment.Failures} failed");
                    }
                }
            }

            return new TenancyResults(scenarios, floors, concurrency, duration);
        }
    }

    private static async Task<TenancyResult> ScenarioAsync(
        Targets targets, LoadRunner runner, BenchSettings settings, Uri[] hosts, int instances, string spread, int tenants, int latency, int run,
        int concurrency, TimeSpan duration)
    {
        string prefix = $"ten{run}x";
        var keys = new List<(string Id, string Key, string Tenant)>();
        for (int t = 0; t < tenants; t++)
        {
            await Targets.PutBudgetAsync(hosts[0], $"{prefix}{t}:", 100_000m);
        }

        for (int i = 0; i < settings.Keys; i++)
        {
            string tenant = $"{prefix}{i % tenants}";
            (string id, string key) = await Targets.IssueKeyAsync(hosts[0], $"{tenant}:billing-agent:bench:run-{i}", 10_000m);
            keys.Add((id, key, tenant));
        }

        Uri Charge(Uri host) => new(host, "proxy/stripe/" + Targets.ChargePath);
        var target = new Target($"{spread}, {instances} instance(s), +{latency} ms", Charge(hosts[0]), [.. keys.Select(k => k.Key)], instances == 2 ? Charge(hosts[1]) : null);
        await runner.RunAsync(target, concurrency, settings.WarmupDuration, round: 0, () => 0, () => 0);

        // Counted from here: the warm-up's charges are on the counters and in the audit already.
        long countedBefore = await CountedAsync(hosts[0], keys);
        (int auditBefore, int inDoubtBefore) = await AuditRowsAsync(settings.Storage, targets.TablePrefix, keys.Select(k => k.Tenant).Distinct());
        targets.Vendors.Reset();
        long transactionsBefore = targets.TableRequests.Transactions;
        Segment segment = await runner.RunAsync(target, concurrency, duration, round: 1, () => targets.TableRequests.Count, () => targets.Vault.Requests);
        long transactions = targets.TableRequests.Transactions - transactionsBefore;
        LedgerCharges charges = LedgerCharges.Of(targets);
        targets.Vendors.Reset();

        long countedAfter = await CountedAsync(hosts[0], keys);
        (int auditAfter, int inDoubtAfter) = await AuditRowsAsync(settings.Storage, targets.TablePrefix, keys.Select(k => k.Tenant).Distinct());
        return new TenancyResult(spread, instances, latency, segment, charges.Micros, countedAfter - countedBefore, charges.Count,
            auditAfter - auditBefore, inDoubtAfter - inDoubtBefore, transactions);
    }

    /// <summary>What the keys' counters hold, as the operator API reports it.</summary>
    private static async Task<long> CountedAsync(Uri host, List<(string Id, string Key, string Tenant)> keys)
    {
        long total = 0;
        foreach ((string id, _, _) in keys)
        {
            total += await Targets.SpentMicrosAsync(host, id);
        }

        return total;
    }

    /// <summary>Audit rows of today's partitions of these tenants: forwarded 200s, and calls still in doubt.</summary>
    private static async Task<(int Forwarded, int InDoubt)> AuditRowsAsync(string storage, string tablePrefix, IEnumerable<string> tenants)
    {
        var table = new TableClient(storage, tablePrefix + "audit");
        int forwarded = 0;
        int inDoubt = 0;
        foreach (string tenant in tenants)
        {
            string partition = AuditEntry.PartitionFor(tenant, DateTimeOffset.UtcNow);
            await foreach (TableEntity row in table.QueryAsync<TableEntity>(e => e.PartitionKey == partition, select: ["RowKey", "Outcome", "Status"]))
            {
                if (row.RowKey.StartsWith('~'))
                {
                    continue;
                }

                string? outcome = row.GetString("Outcome");
                forwarded += outcome == AuditOutcome.Forwarded && row.GetInt32("Status") == 200 ? 1 : 0;
                inDoubt += outcome == AuditOutcome.InDoubt ? 1 : 0;
            }
        }

        return (forwarded, inDoubt);
    }

    /// <summary>
    /// The storage's own ceiling for this shape of load: <paramref name="concurrency"/> workers inserting one entity
    /// per transaction, spread over as many partitions as the scenario has tenants.
    /// </summary>
    private static async Task<FloorResult> FloorAsync(string storage, string tablePrefix, string spread, int partitions, int latency, int concurrency, TimeSpan duration)
    {
        var options = new TableClientOptions();
        options.Retry.MaxRetries = 2;
        var table = new TableClient(storage, tablePrefix + "floor", options);
        await table.CreateIfNotExistsAsync();
        var alone = new List<double>();
        for (int i = 0; i < 30; i++)
        {
            long sent = Stopwatch.GetTimestamp();
            await table.AddEntityAsync(new TableEntity($"alone{latency}", Guid.NewGuid().ToString("N")) { ["Value"] = 1L });
            alone.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
        }

        alone.Sort();
        long completed = 0;
        int failures = 0;
        long deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        long began = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(worker => Task.Run(async () =>
        {
            string partition = $"floor{latency}-{partitions}-{worker % partitions}";
            while (Stopwatch.GetTimestamp() < deadline)
            {
                try
                {
                    await table.AddEntityAsync(new TableEntity(partition, Guid.NewGuid().ToString("N")) { ["Value"] = 1L });
                    Interlocked.Increment(ref completed);
                }
                catch (RequestFailedException)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        })));
        return new FloorResult(spread, partitions, latency, completed / Stopwatch.GetElapsedTime(began).TotalSeconds, failures, alone[alone.Count / 2]);
    }
}

/// <summary>The successful payment-intent creates in the fake Stripe's ledger: how many and how much.</summary>
internal sealed record LedgerCharges(int Count, long Micros)
{
    public static LedgerCharges Of(Targets targets)
    {
        var charges = targets.Vendors.Stripe.Ledger
            .Where(e => e.Status == 200 && e.Method == "POST" && e.Path.EndsWith("/v1/payment_intents", StringComparison.Ordinal))
            .ToList();

        // Minor units of USD are cents: 10,000 micro-dollars each.
        return new LedgerCharges(charges.Count, charges.Sum(e => e.AmountMinor ?? 0) * 10_000);
    }
}
