using System.Diagnostics;
using System.Net;

namespace Keybrake.Bench;

/// <summary>Table requests and Key Vault requests a sequence of single calls made, counted.</summary>
internal sealed record CallCount(string Case, long TableRequests, long VaultRequests);

/// <summary>Many concurrent charges on one cap: what got through, what was refused, what it cost.</summary>
internal sealed record ContentionResult(
    string Case, int Calls, int Hosts, int Charged, int CapRefused, int Other, string? FirstOther, TimeSpan Elapsed,
    long TableRequests, long Conflicts, long CapMicros, long ChargedMicros, long ReportedSpentMicros)
{
    public long OverspendMicros => Math.Max(0, Math.Max(ChargedMicros, ReportedSpentMicros) - CapMicros);
}

internal sealed record MacroResults(
    IReadOnlyList<Segment> Segments,
    IReadOnlyList<CallCount> CallCounts,
    IReadOnlyList<ContentionResult> Contention,
    TenancyResults? Tenancy,
    IReadOnlyList<OwnershipCase> Ownership,
    TimeSpan Took);

/// <summary>
/// The four scenarios, measured in one process and one run: every round runs each scenario for a fixed time at
/// each concurrency level, the scenario order rotating from round to round, so that drift on a shared, noisy
/// machine lands on all of them alike and ratios can be taken round by round.
/// </summary>
internal static class MacroBenchmark
{
    public static readonly string[] Scenarios = ["direct", "yarp", "keybrake-memory", "keybrake-azurite"];

    public static async Task<MacroResults> RunAsync(BenchSettings settings)
    {
        long began = Stopwatch.GetTimestamp();
        await using Targets targets = await Targets.StartAsync(settings.Storage);
        using var handler = new SocketsHttpHandler { UseProxy = false, UseCookies = false, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromMinutes(2) };
        var runner = new LoadRunner(client);

        int workers = settings.Concurrency.Max();
        Console.WriteLine($"Issuing {settings.Keys} vault keys on each Keybrake host…");
        List<string> memoryKeys = await Targets.IssueKeysAsync(targets.MemoryBase, "benchm", settings.Keys, settings.Tenants, 10_000m);
        List<string> azuriteKeys = await Targets.IssueKeysAsync(targets.AzuriteBase, "bencha", settings.Keys, settings.Tenants, 10_000m);
        Target[] all =
        [
            targets.Direct(workers),
            targets.Yarp(workers),
            new("keybrake-memory", new Uri(targets.MemoryBase, "proxy/stripe/" + Targets.ChargePath), memoryKeys),
            new("keybrake-azurite", new Uri(targets.AzuriteBase, "proxy/stripe/" + Targets.ChargePath), azuriteKeys),
        ];

        var segments = new List<Segment>();
        if (settings.Runs("proxy"))
        {
            segments = await ProxyScenariosAsync(targets, runner, settings, all);
        }

        List<CallCount> counts = [];
        if (settings.Runs("counts"))
        {
            Console.WriteLine("Counting storage and Key Vault requests per call…");
            counts = await CountSingleCallsAsync(targets, runner);
        }

        List<ContentionResult> contention = [];
        if (settings.Runs("contention"))
        {
            Console.WriteLine("Cap contention…");
            contention = await ContentionAsync(targets, runner, settings);
        }

        TenancyResults? tenancy = null;
        if (settings.Runs("tenancy"))
        {
            Console.WriteLine("Tenancy on Azurite (hot tenant, 8 tenants; 1 and 2 instances; +0 and +5 ms storage latency)…");
            tenancy = await TenancyBenchmark.RunAsync(targets, runner, settings);
        }

        IReadOnlyList<OwnershipCase> ownership = [];
        if (settings.Runs("ownership"))
        {
            Console.WriteLine("Object ownership look-up cost…");
            ownership = await OwnershipBenchmark.RunAsync(targets, client, settings);
        }

        return new MacroResults(segments, counts, contention, tenancy, ownership, Stopwatch.GetElapsedTime(began));
    }

    /// <summary>The four scenarios in rotated rounds at every concurrency, after a warm-up of each.</summary>
    private static async Task<List<Segment>> ProxyScenariosAsync(Targets targets, LoadRunner runner, BenchSettings settings, Target[] all)
    {
        Console.WriteLine("Warming up…");
        foreach (int concurrency in settings.Concurrency)
        {
            foreach (Target target in all)
            {
                Segment warm = await runner.RunAsync(target, concurrency, settings.WarmupDuration, round: 0, () => 0, () => 0);
                EnsureNoFailures(warm);
                targets.Vendors.Reset();
            }
        }

        var segments = new List<Segment>();
        for (int round = 1; round <= settings.Rounds; round++)
        {
            foreach (int concurrency in settings.Concurrency)
            {
                for (int i = 0; i < all.Length; i++)
                {
                    Target target = all[(i + round) % all.Length];
                    Segment segment = await runner.RunAsync(
                        target, concurrency, settings.SegmentDuration, round, () => targets.TableRequests.Count, () => targets.Vault.Requests);
                    EnsureNoFailures(segment);
                    segments.Add(segment);

                    // The fake's ledger keeps every request; it is not what is measured.
                    targets.Vendors.Reset();
                    Console.WriteLine($"  round {round} c={concurrency,-3} {target.Name,-17} {segment.RequestsPerSecond,8:0} req/s");
                }
            }
        }

        return segments;
    }

    /// <summary>
    /// One call at a time on a fresh key of a fresh tenant: the first call (nothing cached), then warm calls, a warm
    /// call past the first key record's 1 s lifetime (re-read in the background at half-life), then a call of a key
    /// idle for longer than the lifetime.
    /// </summary>
    private static async Task<List<CallCount>> CountSingleCallsAsync(Targets targets, LoadRunner runner)
    {
        (string _, string key) = await Targets.IssueKeyAsync(targets.AzuriteBase, "benchcount:billing-agent:count:run-1", 10_000m);
        var url = new Uri(targets.AzuriteBase, "proxy/stripe/" + Targets.ChargePath);
        var counts = new List<CallCount>();

        async Task CountAsync(string name, int settleMs = 0)
        {
            long tables = targets.TableRequests.Count;
            long vault = targets.Vault.Requests;
            (HttpStatusCode status, _, string body) = await runner.ChargeAsync(url, key);
            if (status != HttpStatusCode.OK)
            {
                throw new InvalidOperationException($"Counted call failed: {(int)status} {body}");
            }

            // Work the call started behind its answer (a background re-read) is counted with it when asked to.
            await Task.Delay(settleMs);

            counts.Add(new CallCount(name, targets.TableRequests.Count - tables, targets.Vault.Requests - vault));
        }

        await CountAsync("first call of a new key and tenant");
        await CountAsync("warm call");
        await CountAsync("warm call (again)");

        // 700 ms: past half-life, so this call starts the background re-read (counted with it); 400 ms later the first
        // record is past its lifetime and the re-read one is not yet at half-life, so that call counts only its own.
        await Task.Delay(TimeSpan.FromMilliseconds(700));
        await CountAsync("warm call at 0.7 s, plus the background re-read of the key record it starts", settleMs: 200);
        await Task.Delay(TimeSpan.FromMilliseconds(200));
        await CountAsync("warm call past the first key record's 1 s lifetime");
        await Task.Delay(TimeSpan.FromMilliseconds(1100));
        await CountAsync("call of a key idle for 1.1 s (record expired)");
        targets.Vendors.Reset();
        return counts;
    }

    private static async Task<List<ContentionResult>> ContentionAsync(Targets targets, LoadRunner runner, BenchSettings settings)
    {
        Uri second = await targets.StartAzuriteInstanceAsync(settings.Storage);
        Uri[] hosts = [targets.AzuriteBase, second];
        int calls = settings.ContentionCalls;
        decimal keyCap = calls / 8;
        decimal budget = calls * 3 / 40;

        (string keyId, string key) = await Targets.IssueKeyAsync(targets.AzuriteBase, "contend-key:billing-agent:race:run-1", keyCap);
        ContentionResult oneKey = await FireAsync(
            $"one key, ${keyCap:0} daily cap", targets, runner, hosts, calls, _ => key, (long)(keyCap * 1_000_000m),
            () => Targets.SpentMicrosAsync(targets.AzuriteBase, keyId));

        await Targets.PutBudgetAsync(targets.AzuriteBase, "contend-tenant:", budget);
        (string Id, string Key)[] keys =
        [
            await Targets.IssueKeyAsync(targets.AzuriteBase, "contend-tenant:billing-agent:race:run-a", keyCap),
            await Targets.IssueKeyAsync(targets.AzuriteBase, "contend-tenant:billing-agent:race:run-b", keyCap),
            await Targets.IssueKeyAsync(targets.AzuriteBase, "contend-tenant:onboarding-agent:race:run-c", keyCap),
        ];
        ContentionResult oneTenant = await FireAsync(
            $"one tenant budget, ${budget:0} daily, over 3 keys", targets, runner, hosts, calls, i => keys[i % keys.Length].Key, (long)(budget * 1_000_000m),
            async () =>
            {
                long spent = 0;
                foreach ((string id, string _) in keys)
                {
                    spent += await Targets.SpentMicrosAsync(targets.AzuriteBase, id);
                }

                return spent;
            });
        return [oneKey, oneTenant];
    }

    /// <summary>Fires every call at once, alternating between the two instances; each is a distinct $1.00 charge.</summary>
    private static async Task<ContentionResult> FireAsync(
        string name, Targets targets, LoadRunner runner, Uri[] hosts, int calls, Func<int, string> keyFor, long capMicros, Func<Task<long>> spent)
    {
        string run = "contend" + Guid.NewGuid().ToString("N")[..8];
        long tables = targets.TableRequests.Count;
        long conflicts = targets.TableRequests.Conflicts;
        using var gate = new SemaphoreSlim(0);
        Task<(HttpStatusCode Status, double? OverheadMs, string Body)>[] sent = Enumerable.Range(0, calls).Select(async i =>
        {
            await gate.WaitAsync();
            return await runner.ChargeAsync(new Uri(hosts[i % hosts.Length], "proxy/stripe/" + Targets.ChargePath), keyFor(i), amountMinor: 100, run);
        }).ToArray();
        long began = Stopwatch.GetTimestamp();
        gate.Release(calls);
        (HttpStatusCode Status, double? OverheadMs, string Body)[] answers = await Task.WhenAll(sent);
        TimeSpan elapsed = Stopwatch.GetElapsedTime(began);

        int charged = answers.Count(a => a.Status == HttpStatusCode.OK);
        int refused = answers.Count(a => a.Status == HttpStatusCode.TooManyRequests && a.Body.Contains("keybrake_cap_exceeded", StringComparison.Ordinal));
        string? firstOther = answers.Where(a => a.Status != HttpStatusCode.OK && !(a.Status == HttpStatusCode.TooManyRequests && a.Body.Contains("keybrake_cap_exceeded", StringComparison.Ordinal)))
            .Select(a => $"{(int)a.Status} {a.Body[..Math.Min(200, a.Body.Length)]}").FirstOrDefault();
        long chargedMinor = targets.Vendors.Stripe.Ledger
            .Where(e => e.Status == 200 && e.Form.TryGetValue("metadata[run]", out IReadOnlyList<string>? r) && r.Contains(run))
            .Sum(e => e.AmountMinor ?? 0);
        var result = new ContentionResult(
            name, calls, hosts.Length, charged, refused, calls - charged - refused, firstOther, elapsed,
            targets.TableRequests.Count - tables, targets.TableRequests.Conflicts - conflicts, capMicros,
            chargedMinor * 10_000, await spent());
        targets.Vendors.Reset();
        return result;
    }

    private static void EnsureNoFailures(Segment segment)
    {
        if (segment.Failures > 0)
        {
            throw new InvalidOperationException(
                $"{segment.Scenario} at concurrency {segment.Concurrency}: {segment.Failures} calls failed; the first: {segment.FirstFailure}");
        }
    }
}
