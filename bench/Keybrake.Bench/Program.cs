using System.Diagnostics;
using Keybrake.Bench;
using Keybrake.Bench.Micro;

// The benchmark command; scripts/bench.sh builds it, starts Azurite and passes --storage and --commit.
//   (default)   the four scenarios, counts and contention, then the micro-benchmarks; writes docs/benchmarks.md
//   --quick     tiny counts (a smoke test of the harness), written to a temporary file unless --out is given
//   --micro     only the micro-benchmarks;  --no-micro  only the macro run;  --rounds N  A/B rounds
//   --micro-classes hotpath,pipeline   which micro-benchmark classes (both by default)
//   --alloc-profile   where the pipeline micro-benchmark's bytes go, by type (sampled)
//   --soak [--calls N] [--every N] [--paths memory,azurite]   the soak run instead (scripts/soak.sh)
//   --soak --azurite-growth [--entities N] [--every N]   Azurite's own insert rate as one table grows (the soak's calibration)
if (args.Contains("--alloc-profile"))
{
    await AllocationProfile.RunAsync(calls: 50_000);
    return;
}

if (args.Contains("--soak"))
{
    string? Value(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
    long calls = long.Parse(Value("--calls") ?? "1000000", System.Globalization.CultureInfo.InvariantCulture);
    long every = long.Parse(Value("--every") ?? "100000", System.Globalization.CultureInfo.InvariantCulture);
    string storage = Value("--storage") ?? throw new ArgumentException("Pass --storage <Azurite connection string> (scripts/soak.sh does).");
    if (args.Contains("--azurite-growth"))
    {
        await AzuriteGrowth.RunAsync(storage, int.Parse(Value("--entities") ?? "300000", System.Globalization.CultureInfo.InvariantCulture), (int)every);
        return;
    }

    var paths = new HashSet<string>((Value("--paths") ?? "memory,azurite").Split(','), StringComparer.Ordinal);
    await Soak.RunAsync(storage, calls, every, keys: 10_000, tenants: 100, paths);
    return;
}

BenchSettings settings = BenchSettings.Parse(args);

if (settings.Macro)
{
    MacroResults results = await MacroBenchmark.RunAsync(settings);
    Report.Write(settings.OutPath, "macro", Report.Macro(settings, results));
    Console.WriteLine($"Macro benchmark written to {settings.OutPath} ({results.Took.TotalMinutes:0.0} min).");
}

if (settings.Micro)
{
    long began = Stopwatch.GetTimestamp();
    string artifacts = Path.Combine(Path.GetTempPath(), "keybrake-bench-artifacts");
    IReadOnlyList<MicroResult> micro = MicroBenchmark.Run(settings.Quick, artifacts, settings.MicroClasses);
    Report.Write(settings.OutPath, "micro", Report.Micro(settings, micro, Stopwatch.GetElapsedTime(began)));
    Console.WriteLine($"Micro-benchmarks written to {settings.OutPath}.");
}
