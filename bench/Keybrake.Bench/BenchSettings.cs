using System.Globalization;

namespace Keybrake.Bench;

/// <summary>The benchmark command's arguments (see scripts/bench.sh).</summary>
internal sealed record BenchSettings
{
    public bool Quick { get; init; }

    public bool Macro { get; init; } = true;

    public bool Micro { get; init; } = true;

    public required string Storage { get; init; }

    public required string OutPath { get; init; }

    public string Commit { get; init; } = "unknown";

    /// <summary>A/B rounds: every scenario runs once per round at every concurrency, in a rotated order.</summary>
    public int Rounds { get; init; } = 6;

    public TimeSpan SegmentDuration { get; init; } = TimeSpan.FromSeconds(2);

    public TimeSpan WarmupDuration { get; init; } = TimeSpan.FromSeconds(1);

    public IReadOnlyList<int> Concurrency { get; init; } = [1, 8, 64];

    /// <summary>Vault keys the load spreads over (worker i uses key i mod Keys), and the tenants they belong to.</summary>
    public int Keys { get; init; } = 64;

    public int Tenants { get; init; } = 8;

    /// <summary>Concurrent $1.00 charges fired at once in each contention run.</summary>
    public int ContentionCalls { get; init; } = 400;

    /// <summary>The parts of the macro run to do (<c>--scenarios a,b</c>); every one by default.</summary>
    public IReadOnlySet<string> Sections { get; init; } = AllSections;

    public static IReadOnlySet<string> AllSections { get; } = new HashSet<string>(["proxy", "counts", "contention", "tenancy", "ownership"], StringComparer.Ordinal);

    public bool Runs(string section) => Sections.Contains(section);

    /// <summary>The micro-benchmark classes to run (<c>--micro-classes pipeline</c>): <c>hotpath</c> and <c>pipeline</c> by default.</summary>
    public IReadOnlySet<string> MicroClasses { get; init; } = AllMicroClasses;

    public static IReadOnlySet<string> AllMicroClasses { get; } = new HashSet<string>(["hotpath", "pipeline"], StringComparer.Ordinal);

    public static BenchSettings Parse(string[] args)
    {
        string? Value(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
        bool quick = args.Contains("--quick");
        bool microOnly = args.Contains("--micro");
        string storage = Value("--storage") ?? Environment.GetEnvironmentVariable("KEYBRAKE_BENCH_STORAGE")
            ?? throw new ArgumentException("Pass --storage <Azurite connection string> (scripts/bench.sh does).");
        string outPath = Value("--out") ?? (quick
            ? Path.Combine(Path.GetTempPath(), "keybrake-bench-quick.md")
            : Path.Combine("docs", "benchmarks.md"));
        var settings = new BenchSettings
        {
            Quick = quick,
            Macro = !microOnly,
            Micro = !args.Contains("--no-micro"),
            Storage = storage,
            OutPath = outPath,
            Commit = Value("--commit") ?? "unknown",
        };
        if (quick)
        {
            settings = settings with
            {
                Rounds = 1,
                SegmentDuration = TimeSpan.FromMilliseconds(300),
                WarmupDuration = TimeSpan.FromMilliseconds(200),
                Keys = 8,
                Tenants = 2,
                ContentionCalls = 40,
            };
        }

        if (Value("--scenarios") is string sections)
        {
            var chosen = new HashSet<string>(sections.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), StringComparer.Ordinal);
            if (chosen.Count == 0 || !chosen.IsSubsetOf(AllSections))
            {
                throw new ArgumentException($"--scenarios takes a comma-separated list of {string.Join(", ", AllSections)}.");
            }

            settings = settings with { Sections = chosen };
        }

        if (Value("--micro-classes") is string classes)
        {
            var chosen = new HashSet<string>(classes.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), StringComparer.Ordinal);
            if (chosen.Count == 0 || !chosen.IsSubsetOf(AllMicroClasses))
            {
                throw new ArgumentException($"--micro-classes takes a comma-separated list of {string.Join(", ", AllMicroClasses)}.");
            }

            settings = settings with { MicroClasses = chosen };
        }

        if (Value("--rounds") is string rounds)
        {
            settings = settings with { Rounds = int.Parse(rounds, CultureInfo.InvariantCulture) };
        }

        return settings;
    }
}
