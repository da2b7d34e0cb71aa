using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Perfolizer.Horology;

namespace Keybrake.Bench.Micro;

/// <summary>One micro-benchmark's figures.</summary>
internal sealed record MicroResult(string Name, double MeanNs, double StdDevNs, long? AllocatedBytes);

/// <summary>
/// Runs <see cref="HotPathBenchmarks"/> with BenchmarkDotNet in this process (no generated project to build), with a
/// short job (a couple of seconds per benchmark instead of BenchmarkDotNet's default of many). The empty-method overhead is
/// not measured and subtracted: it is about a nanosecond, below these benchmarks' noise on a shared machine.
/// </summary>
internal static class MicroBenchmark
{
    public static IReadOnlyList<MicroResult> Run(bool quick, string artifacts)
    {
        Job job = quick
            ? Job.Dry
            : Job.Default.WithLaunchCount(1).WithWarmupCount(2).WithIterationCount(6).WithIterationTime(TimeInterval.FromMilliseconds(100)).WithEvaluateOverhead(false);
        IConfig config = ManualConfig.CreateEmpty()
            .AddJob(job.WithToolchain(InProcessEmitToolchain.Instance))
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .AddLogger(ConsoleLogger.Default)
            .WithArtifactsPath(artifacts);
        Summary summary = BenchmarkRunner.Run<HotPathBenchmarks>(config);
        return [.. summary.Reports.Select(r => new MicroResult(
            r.BenchmarkCase.Descriptor.WorkloadMethod.Name,
            r.ResultStatistics?.Mean ?? double.NaN,
            r.ResultStatistics?.StandardDeviation ?? double.NaN,
            r.GcStats.GetBytesAllocatedPerOperation(r.BenchmarkCase)))];
    }
}
