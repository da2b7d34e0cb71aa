using System.Text.Json;
using System.Text.RegularExpressions;

namespace Keybrake.Infra.Tests;

/// <summary>
/// The test command builds and runs Serverless.Tests.slnf, and builds bench/ beside the tests: a project added to
/// the solution and not to the filter would be neither built nor run by CI.
/// </summary>
public sealed partial class TestCommandTests
{
    [Fact]
    public void TestSolutionFilter_HoldsEveryProjectOfTheSolution_ButTheBenchmarks()
    {
        var solution = ProjectPath().Matches(File.ReadAllText(Path.Combine(ArmTemplate.RepositoryRoot, "Serverless.sln")))
            .Select(m => m.Groups[1].Value)
            .ToList();
        using var filter = JsonDocument.Parse(File.ReadAllText(Path.Combine(ArmTemplate.RepositoryRoot, "Serverless.Tests.slnf")));
        var filtered = filter.RootElement.GetProperty("solution").GetProperty("projects").EnumerateArray()
            .Select(p => p.GetString()!)
            .Order(StringComparer.Ordinal)
            .ToList();

        Assert.Equal("Serverless.sln", filter.RootElement.GetProperty("solution").GetProperty("path").GetString());
        Assert.Contains(solution, p => p.StartsWith(@"bench\", StringComparison.Ordinal));
        Assert.Equal(solution.Where(p => !p.StartsWith(@"bench\", StringComparison.Ordinal)).Order(StringComparer.Ordinal), filtered);
    }

    [GeneratedRegex(@"^Project\(""\{FAE04EC0-301F-11D3-BF4B-00C04F79EFBC\}""\) = ""[^""]+"", ""([^""]+\.csproj)""", RegexOptions.Multiline)]
    private static partial Regex ProjectPath();
}
