using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text;
using Keybrake.Bench.Micro;

namespace Keybrake.Bench;

/// <summary>
/// Writes the figures into a Markdown file between marker comments (one pair for the macro run, one for the
/// micro-benchmarks), leaving the hand-written text around them (method, analysis, before/after) as it is.
/// </summary>
internal static class Report
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static void Write(string path, string section, string markdown)
    {
        string start = $"<!-- {section}:start -->";
        string end = $"<!-- {section}:end -->";
        string text = File.Exists(path)
            ? File.ReadAllText(path)
            : $"# Keybrake benchmarks\n\n{start}\n{end}\n";
        int from = text.IndexOf(start, StringComparison.Ordinal);
        int to = text.IndexOf(end, StringComparison.Ordinal);
        if (from < 0 || to < from)
        {
            text = text.TrimEnd() + $"\n\n{start}\n{end}\n";
            from = text.IndexOf(start, StringComparison.Ordinal);
            to = text.IndexOf(end, StringComparison.Ordinal);
        }

        string updated = text[..(from + start.Length)] + "\n" + markdown.TrimEnd() + "\n" + text[to..];
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, updated);
    }

    public static string RunHeader(BenchSettings settings, TimeSpan took) =>
        $"Run {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, commit `{settings.Commit}`, took {took.TotalMinutes:0.0} min{(settings.Quick ? " (**--quick**: smoke-test counts, not figures)" : string.Empty)}.  \n" +
        $"Machine: {Cpu()}, {Environment.ProcessorCount} cores, {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1L << 30)} GiB; " +
        $"{RuntimeInformation.OSDescription}; {RuntimeInformation.FrameworkDescription}, {(GCSettings.IsServerGC ? "server" : "workstation")} GC.\n";

    public static string Macro(BenchSettings settings, MacroResults results)
    {
        var md = new StringBuilder();
        md.AppendLine(RunHeader(settings, results.Took));
        md.AppendLine(Inv, $"Load: {settings.Rounds} rounds × {settings.SegmentDuration.TotalSeconds:0.#} s per scenario and concurrency (after a {settings.WarmupDuration.TotalSeconds:0.#} s warm-up of each), " +
                           $"scenario order rotated each round; Keybrake calls spread over {settings.Keys} vault keys in {settings.Tenants} tenants (worker i uses key i mod {settings.Keys}).");
        md.AppendLine();
        if (results.Segments.Count > 0)
        {
            ProxyTables(md, settings, results);
        }

        if (results.CallCounts.Count > 0)
        {
            md.AppendLine("### Storage round trips and Key Vault calls per single call (counted, scenario 4)");
            md.AppendLine();
            md.AppendLine("| what | Table Storage requests | Key Vault requests |");
            md.AppendLine("|---|---:|---:|");
            foreach (CallCount count in results.CallCounts)
            {
                md.AppendLine(Inv, $"| {count.Case} | {count.TableRequests} | {count.VaultRequests} |");
            }

            md.AppendLine();
        }

        if (results.Contention.Count > 0)
        {
            ContentionTable(md, results);
        }

        if (results.Tenancy is TenancyResults tenancy)
        {
            TenancyTables(md, tenancy);
        }

        if (results.Ownership.Count > 0)
        {
            OwnershipTable(md, results.Ownership);
        }

        return md.ToString();
    }

    private static void ProxyTables(StringBuilder md, BenchSettings settings, MacroResults results)
    {
        md.AppendLine("### Latency, throughput, allocation");
        md.AppendLine();
        md.AppendLine("| scenario | concurrency | p50 ms | p90 ms | p99 ms | req/s | calls | allocated/req (process) | allocated/req over direct |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (int c in settings.Concurrency)
        {
            double directAlloc = AllocPerRequest(results, "direct", c);
            foreach (string s in MacroBenchmark.Scenarios)
            {
                Segment[] seg = Of(results, s, c);
                long[] sorted = Sorted(seg);
                double alloc = AllocPerRequest(results, s, c);
                md.AppendLine(Inv,
                    $"| {Label(s)} | {c} | {Ms(Pct(sorted, 0.50)):0.00} | {Ms(Pct(sorted, 0.90)):0.00} | {Ms(Pct(sorted, 0.99)):0.00} | {Rps(seg):0} | {sorted.Length} | {Kb(alloc)} | {(s == "direct" ? "–" : Kb(alloc - directAlloc))} |");
            }
        }

        md.AppendLine();
        md.AppendLine("Saturation (the highest req/s over the concurrency levels): " + string.Join(", ",
            MacroBenchmark.Scenarios.Select(s => $"{Label(s)} {settings.Concurrency.Max(c => Rps(Of(results, s, c))):0} req/s")) + ".");
        md.AppendLine();

        md.AppendLine("### Ratios against the bare YARP forwarder (2)");
        md.AppendLine();
        md.AppendLine("Each ratio is taken within a round (the scenarios of one round ran back to back) and the median over rounds is shown, with the range over rounds in brackets. " +
                      "\"Throughput cost\" is req/s(2) ÷ req/s(n): above 1 means fewer calls per second than the bare forwarder.");
        md.AppendLine();
        md.AppendLine("| concurrency | 3÷2 p50 | 3÷2 p99 | 3÷2 throughput cost | 4÷2 p50 | 4÷2 p99 | 4÷2 throughput cost |");
        md.AppendLine("|---:|---:|---:|---:|---:|---:|---:|");
        foreach (int c in settings.Concurrency)
        {
            md.AppendLine(Inv,
                $"| {c} | {Ratio(results, "keybrake-memory", c, 0.50)} | {Ratio(results, "keybrake-memory", c, 0.99)} | {ThroughputRatio(results, "keybrake-memory", c)} | " +
                $"{Ratio(results, "keybrake-azurite", c, 0.50)} | {Ratio(results, "keybrake-azurite", c, 0.99)} | {ThroughputRatio(results, "keybrake-azurite", c)} |");
        }

        md.AppendLine();
        md.AppendLine("### Storage round trips and Key Vault calls per proxied call under load (counted, scenario 4)");
        md.AppendLine();
        md.AppendLine("| what | Table Storage requests per call | Key Vault requests per call |");
        md.AppendLine("|---|---:|---:|");
        foreach (int c in settings.Concurrency)
        {
            Segment[] seg = Of(results, "keybrake-azurite", c);
            long calls = seg.Sum(x => (long)x.Completed);
            md.AppendLine(Inv, $"| under load, concurrency {c} ({calls} calls) | {(double)seg.Sum(x => x.TableRequests) / calls:0.000} | {(double)seg.Sum(x => x.VaultRequests) / calls:0.0000} |");
        }

        md.AppendLine();
        md.AppendLine("### `X-Keybrake-Overhead-Ms` against the benchmark's own clock");
        md.AppendLine();
        md.AppendLine("The header is milliseconds to the hundredth of time in the proxy minus time waiting for the vendor. The benchmark's estimate of the same overhead is " +
                      "p50 latency through Keybrake minus p50 latency of the direct call (that difference also holds the extra loopback hop and Kestrel's own work, which the header cannot see).");
        md.AppendLine();
        md.AppendLine("| scenario | concurrency | header median ms | header p90 ms | p50(n) − p50(direct) ms | p50(n) − p50(YARP) ms |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (string s in new[] { "keybrake-memory", "keybrake-azurite" })
        {
            foreach (int c in settings.Concurrency)
            {
                double[] header = [.. Of(results, s, c).SelectMany(x => x.OverheadHeaderMs).Order()];
                double p50 = Ms(Pct(Sorted(Of(results, s, c)), 0.5));
                md.AppendLine(Inv,
                    $"| {Label(s)} | {c} | {PctRaw(header, 0.5)} | {PctRaw(header, 0.9)} | {p50 - Ms(Pct(Sorted(Of(results, "direct", c)), 0.5)):0.00} | {p50 - Ms(Pct(Sorted(Of(results, "yarp", c)), 0.5)):0.00} |");
            }
        }

        md.AppendLine();
    }

    private static void ContentionTable(StringBuilder md, MacroResults results)
    {
        md.AppendLine("### Cap contention (Azurite, two Keybrake instances on the same tables)");
        md.AppendLine();
        md.AppendLine("Every call is a distinct $1.00 charge; all are released at once, alternating between the two instances. A call succeeds when it is " +
                      "either charged or refused with `keybrake_cap_exceeded`; anything else is a failure. Overspend compares the cap with both the fake Stripe's ledger and the spend the operator API reports.");
        md.AppendLine();
        md.AppendLine("| case | calls | charged | refused at cap | failed | success rate | wall time | calls/s | Table requests/call | ETag/insert conflicts per call | cap | charged at Stripe | reported spend | overspend |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (ContentionResult r in results.Contention)
        {
            md.AppendLine(Inv,
                $"| {r.Case} | {r.Calls} | {r.Charged} | {r.CapRefused} | {r.Other} | {100.0 * (r.Charged + r.CapRefused) / r.Calls:0.0} % | {r.Elapsed.TotalSeconds:0.00} s | {r.Calls / r.Elapsed.TotalSeconds:0} | " +
                $"{(double)r.TableRequests / r.Calls:0.00} | {(double)r.Conflicts / r.Calls:0.000} | ${Usd(r.CapMicros)} | ${Usd(r.ChargedMicros)} | ${Usd(r.ReportedSpentMicros)} | **${Usd(r.OverspendMicros)}** |");
        }

        foreach (ContentionResult r in results.Contention.Where(r => r.FirstOther is not null))
        {
            md.AppendLine();
            md.AppendLine(Inv, $"First failure in \"{r.Case}\": `{r.FirstOther}`");
        }

        md.AppendLine();
    }

    private static void TenancyTables(StringBuilder md, TenancyResults t)
    {
        md.AppendLine(Inv, $"### Tenancy on Azurite: one hot tenant and 8 tenants, one and two instances, +0 and +{TenancyBenchmark.RelayDelayMs} ms per storage request");
        md.AppendLine();
        md.AppendLine(string.Create(Inv, $"{t.Concurrency} workers for {t.Duration.TotalSeconds:0.#} s per scenario (after a warm-up), a $0.01 charge per call over the scenario's own fresh keys and tenants, each tenant with a daily budget ") +
                           "(so every call reserves on its key's and its tenant's counters). With two instances, odd workers call the second. " +
                           string.Create(Inv, $"+{TenancyBenchmark.RelayDelayMs} ms: every storage request passes a loopback relay that holds it {TenancyBenchmark.RelayDelayMs} ms (in-region Table Storage latency). ") +
                           "Floor: plain single-entity inserts per second by the same number of workers over as many partitions as the scenario has tenants, same latency, same run. " +
                           "Checks: *uncounted* is money the fake Stripe charged that no key counter holds (spend past the caps' sight); *lost audit rows* are Stripe charges without a forwarded or in-doubt audit row.");
        md.AppendLine();
        md.AppendLine("| scenario | instances | storage latency | calls/s | floor inserts/s | floor: one insert alone, ms | calls/s ÷ floor | p50 ms | p99 ms | storage requests/call | transactions/call | failed | Stripe charges | audit rows (forwarded + in doubt) | uncounted | lost audit rows |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (TenancyResult r in t.Scenarios)
        {
            FloorResult floor = t.Floors.Single(f => f.Spread == r.Spread && f.LatencyMs == r.LatencyMs);
            long[] sorted = [.. r.Segment.LatencyTicks.Order()];
            md.AppendLine(Inv,
                $"| {r.Spread} | {r.Instances} | +{r.LatencyMs} ms | {r.Segment.RequestsPerSecond:0} | {floor.InsertsPerSecond:0} | {floor.AloneMs:0.0} | **{r.Segment.RequestsPerSecond / floor.InsertsPerSecond:0.00}** | " +
                $"{Ms(Pct(sorted, 0.50)):0} | {Ms(Pct(sorted, 0.99)):0} | {(double)r.Segment.TableRequests / Math.Max(1, r.Segment.Completed):0.00} | " +
                $"**{(double)r.Transactions / Math.Max(1, r.Segment.Completed):0.00}** | {r.Segment.Failures} | " +
                $"{r.VendorCharges} | {r.AuditRows} + {r.InDoubtRows} | **${Usd(r.UncountedMicros)}** | **{r.LostAuditRows}** |");
        }

        foreach (TenancyResult r in t.Scenarios.Where(r => r.Segment.FirstFailure is not null))
        {
            md.AppendLine();
            md.AppendLine(Inv, $"First failure in \"{r.Spread}, {r.Instances} instance(s), +{r.LatencyMs} ms\": `{r.Segment.FirstFailure}`");
        }

        md.AppendLine();
    }

    private static void OwnershipTable(StringBuilder md, IReadOnlyList<OwnershipCase> cases)
    {
        md.AppendLine("### Object ownership on a shared Stripe account: cost of a call that names an object (Azurite, one call at a time)");
        md.AppendLine();
        md.AppendLine("| call | calls | median ms | p90 ms | Table requests/call | requests at Stripe/call |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (OwnershipCase c in cases)
        {
            md.AppendLine(Inv, $"| {c.Case} | {c.Calls} | {c.MedianMs:0.00} | {c.P90Ms:0.00} | {c.TableRequestsPerCall:0.00} | {c.VendorRequestsPerCall:0.00} |");
        }

        md.AppendLine();
    }

    public static string Micro(BenchSettings settings, IReadOnlyList<MicroResult> results, TimeSpan took)
    {
        var md = new StringBuilder();
        md.AppendLine(RunHeader(settings, took));
        md.AppendLine("| benchmark | mean | std dev | allocated/op |");
        md.AppendLine("|---|---:|---:|---:|");
        foreach (MicroResult r in results)
        {
            md.AppendLine(Inv, $"| {r.Name} | {Ns(r.MeanNs)} | {Ns(r.StdDevNs)} | {(r.AllocatedBytes is long b ? b.ToString("N0", Inv) + " B" : "?")} |");
        }

        return md.ToString();
    }

    public static string Label(string scenario) => scenario switch
    {
        "direct" => "1 direct",
        "yarp" => "2 bare YARP",
        "keybrake-memory" => "3 Keybrake, memory",
        "keybrake-azurite" => "4 Keybrake, Azurite",
        _ => scenario,
    };

    private static Segment[] Of(MacroResults results, string scenario, int concurrency) =>
        [.. results.Segments.Where(s => s.Scenario == scenario && s.Concurrency == concurrency)];

    private static long[] Sorted(IEnumerable<Segment> segments) => [.. segments.SelectMany(s => s.LatencyTicks).Order()];

    private static long Pct(long[] sorted, double p) => sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    private static string PctRaw(double[] sorted, double p) =>
        sorted.Length == 0 ? "–" : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)].ToString("0.00", Inv);

    private static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

    private static double Rps(Segment[] segments) => segments.Sum(s => (double)s.Completed) / segments.Sum(s => s.Elapsed.TotalSeconds);

    private static double AllocPerRequest(MacroResults results, string scenario, int concurrency)
    {
        Segment[] seg = Of(results, scenario, concurrency);
        return (double)seg.Sum(s => s.AllocatedBytes) / seg.Sum(s => (long)s.Completed);
    }

    private static string Ratio(MacroResults results, string scenario, int concurrency, double p) =>
        PerRound(results, concurrency, (mine, floor) => Ms(Pct(Sorted([mine]), p)) / Ms(Pct(Sorted([floor]), p)), scenario);

    private static string ThroughputRatio(MacroResults results, string scenario, int concurrency) =>
        PerRound(results, concurrency, (mine, floor) => floor.RequestsPerSecond / mine.RequestsPerSecond, scenario);

    /// <summary>The median over rounds of a ratio taken between a scenario and the YARP floor of the same round, with the range.</summary>
    private static string PerRound(MacroResults results, int concurrency, Func<Segment, Segment, double> ratio, string scenario)
    {
        double[] ratios = [.. results.Segments.Where(s => s.Scenario == scenario && s.Concurrency == concurrency)
            .Select(mine => results.Segments.SingleOrDefault(f => f.Scenario == "yarp" && f.Concurrency == concurrency && f.Round == mine.Round) is Segment floor ? ratio(mine, floor) : double.NaN)
            .Where(r => !double.IsNaN(r))
            .Order()];
        if (ratios.Length == 0)
        {
            return "–";
        }

        double median = ratios.Length % 2 == 1 ? ratios[ratios.Length / 2] : (ratios[(ratios.Length / 2) - 1] + ratios[ratios.Length / 2]) / 2;
        return ratios.Length > 1
            ? string.Create(Inv, $"**{median:0.00}** ({ratios[0]:0.00}–{ratios[^1]:0.00})")
            : string.Create(Inv, $"**{median:0.00}**");
    }

    private static string Kb(double bytes) => string.Create(Inv, $"{bytes / 1024:0.0} KB");

    private static string Ns(double ns) => double.IsNaN(ns) ? "?" : ns >= 1000 ? string.Create(Inv, $"{ns / 1000:0.00} µs") : string.Create(Inv, $"{ns:0.0} ns");

    private static string Usd(long micros) => (micros / 1_000_000m).ToString("0.00", Inv);

    private static string Cpu()
    {
        try
        {
            string? model = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return model is null ? RuntimeInformation.ProcessArchitecture.ToString() : model[(model.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
        }
        catch (IOException)
        {
            return RuntimeInformation.ProcessArchitecture.ToString();
        }
    }
}
