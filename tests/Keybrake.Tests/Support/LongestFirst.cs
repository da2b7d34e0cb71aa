using Keybrake.Tests.Support;
using Xunit.Abstractions;

[assembly: TestCollectionOrderer(LongestFirst.TypeName, LongestFirst.AssemblyName)]

namespace Keybrake.Tests.Support;

/// <summary>
/// Starts the slowest test classes first. The suite runs four classes at a time (xunit.runner.json) in the order
/// given here; in xunit's default order (by a hash of the name) a 30-40 s class could start last and run alone
/// while the other three slots sat empty. With the long ones first, the short ones fill the end of the run.
/// The order only changes when a class runs, never what it does: a stale list costs time, not correctness.
/// </summary>
public sealed class LongestFirst : ITestCollectionOrderer
{
    public const string TypeName = "Keybrake.Tests.Support.LongestFirst";
    public const string AssemblyName = "Keybrake.Tests";

    // Slowest first, from the test command's trx durations on 2 cores (`scripts/test.sh --logger trx`): the
    // classes that took 10 s or more from their first test's start to their last test's end.
    private static readonly string[] Slowest =
    [
        "Keybrake.Tests.Export.ExportTests",
        "Keybrake.Tests.Api.OperatorFuzzTests",
        "Keybrake.Tests.Dashboard.DashboardBrowserTests",
        "Keybrake.Tests.Caps.LoopWindowTests",
        "Keybrake.Tests.Caps.GeneratedCapTests",
        "Keybrake.Tests.Hosts.RealHostSuite",
        "Keybrake.Tests.Caps.ConcurrentCapTests",
        "Keybrake.Tests.Hosts.DevHostSuite",
        "Keybrake.Tests.Caps.ReconcilerTests",
        "Keybrake.Tests.Caps.CapBoundaryTests",
        "Keybrake.Tests.Reports.AuditQueryTests",
        "Keybrake.Tests.Sdk.NodeSdkTests",
        "Keybrake.Tests.Api.KeyLifecycleTests",
        "Keybrake.Tests.Reports.SyntheticWeekTests",
        "Keybrake.Tests.Reports.SpendQueryTests",
        "Keybrake.Tests.Api.OpenApiTests",
        "Keybrake.Tests.Sdk.DotnetAndCurlTests",
        "Keybrake.Tests.Proxy.ObjectOwnershipTests",
        "Keybrake.Tests.Caps.CapBehaviourTests",
        "Keybrake.Tests.Proxy.HostilePathTests",
    ];

    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections) =>
        testCollections.OrderBy(Rank).ToList(); // stable: the rest keep the order xunit found them in

    // A class without a [Collection] is its own collection, "Test collection for {full name}".
    private static int Rank(ITestCollection collection)
    {
        int rank = Array.FindIndex(Slowest, name => collection.DisplayName == "Test collection for " + name);
        return rank < 0 ? Slowest.Length : rank;
    }
}
