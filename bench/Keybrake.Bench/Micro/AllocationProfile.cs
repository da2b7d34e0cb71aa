using System.Diagnostics.Tracing;

namespace Keybrake.Bench.Micro;

/// <summary>
/// Where <see cref="PipelineBenchmarks"/>' bytes go, by type: the runtime's allocation-tick events (one per ~100 KB
/// allocated, naming the type that crossed the mark) sampled over many calls. A guide to what to cut, next to the
/// memory diagnoser's exact total per call (<c>--alloc-profile</c>).
/// </summary>
internal static class AllocationProfile
{
    public static async Task RunAsync(int calls)
    {
        var benchmark = new PipelineBenchmarks();
        benchmark.Setup();
        for (int i = 0; i < 2_000; i++)
        {
            await benchmark.ProxiedStripeCharge();
        }

        using var listener = new TickListener();
        long beforeAll = GC.GetTotalAllocatedBytes(precise: true);
        for (int i = 0; i < calls; i++)
        {
            await benchmark.ProxiedStripeCharge();
        }

        long all = GC.GetTotalAllocatedBytes(precise: true) - beforeAll;
        benchmark.Cleanup();
        Console.WriteLine($"{calls} calls: {all / (double)calls:0} B allocated per call (process, all threads).");
        long sampled = listener.Bytes.Values.Sum();
        foreach ((string type, long bytes) in listener.Bytes.OrderByDescending(p => p.Value).Take(40))
        {
            Console.WriteLine($"{bytes * 100.0 / sampled,6:0.0} %  {all * (bytes / (double)sampled) / calls,8:0} B/call  {type}");
        }
    }

    private sealed class TickListener : EventListener
    {
        public Dictionary<string, long> Bytes { get; } = [];

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == "Microsoft-Windows-DotNETRuntime")
            {
                EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (e.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) != true || e.Payload is null)
            {
                return;
            }

            int typeIndex = e.PayloadNames!.IndexOf("TypeName");
            int amountIndex = e.PayloadNames.IndexOf("AllocationAmount64");
            string type = typeIndex >= 0 ? e.Payload[typeIndex] as string ?? "?" : "?";
            long amount = amountIndex >= 0 ? Convert.ToInt64(e.Payload[amountIndex], System.Globalization.CultureInfo.InvariantCulture) : 100_000;
            lock (Bytes)
            {
                Bytes[type] = Bytes.GetValueOrDefault(type) + amount;
            }
        }
    }
}
