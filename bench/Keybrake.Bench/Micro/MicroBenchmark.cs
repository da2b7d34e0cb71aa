using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace Keybrake.Bench.Micro;

/// <summary>One micro-benchmark's figures.</summary>
internal sealed record MicroResult(string Name, double MeanNs, double StdDevNs, long? AllocatedBytes);

/// <summary>
/// Runs <see cref="HotPathBenchmarks"/> and <see cref="PipelineBenchmarks"/> with BenchmarkDotNet in this process (no generated project to build), with a
/// short job: a fixed 16,384 calls per iteration (these functions take 0.1-5 µs, so an iteration takes 2-80 ms) instead
/// of a pilot stage that sizes iterations, and no empty-method overhead runs (about a nanosecond, below these
/// benchmarks' noise on a shared machine). A few seconds per benchmark instead of BenchmarkDotNet's default of many.
/// </summary>
internal static class MicroBenchmark
{
    public static IReadOnlyList<MicroResult> Run(bool quick, string artifacts, IReadOnlySet<string> classes)
    {
        Job job = quick
            ? Job.Dry
            : Job.Default.WithLaunchCount(1).WithWarmupCount(2).WithIterationCount(8).WithInvocationCount(16_384).WithUnrollFactor(16).WithEvaluateOverhead(false);
        IConfig config = ManualConfig.CreateEmpty()
            .AddJob(job.WithToolchain(InProcessEmitToolchain.Instance))
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .AddLogger(ConsoleLogger.Default)
            .WithArtifactsPath(artifacts);
        Type[] types = [.. new[] { ("hotpath", typeof(HotPathBenchmarks)), ("pipeline", typeof(PipelineBenchmarks)) }
            .Where(c => classes.Contains(c.Item1)).Select(c => c.Item2)];
        return [.. types.Select(t => BenchmarkRunner.Run(t, config)).SelectMany(summary => summary.Reports).Select(r => new MicroResult(
            r.BenchmarkCase.Descriptor.WorkloadMethod.Name,
            r.ResultStatistics?.Mean ?? double.NaN,
            r.ResultStatistics?.StandardDeviation ?? double.NaN,
            r.GcStats.GetBytesAllocatedPerOperation(r.BenchmarkCase)))];
    }
}
