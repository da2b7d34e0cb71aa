using System.Text.RegularExpressions;
using Keybrake.Tests.DevHost;

namespace Keybrake.Tests.Sdk;

/// <summary>
/// docs/agents.md shows only code the SDK tests run: every code block on the page is a marked region of a test
/// source (<c>// snippet: name</c> … <c>// end snippet</c>, or <c>#</c> in Python and bash), verbatim, and every
/// such region appears on the page.
/// </summary>
public sealed partial class DocsSnippetTests
{
    private static readonly string Root = FunctionsMetadataTests.RepoRoot();

    [Fact]
    public void EveryCodeBlockOnTheAgentsPage_IsATestedRegion_Verbatim()
    {
        string page = File.ReadAllText(Path.Combine(Root, "docs", "agents.md")).ReplaceLineEndings("\n");
        int blocks = Regex.Count(page, "^```[a-z]+\\n", RegexOptions.Multiline);
        MatchCollection marked = MarkedBlock().Matches(page);

        Assert.True(marked.Count > 10, "expected the SDK snippets");
        Assert.Equal(blocks, marked.Count); // no code block without its source
        foreach (Match block in marked)
        {
            string expected = Region(block.Groups["path"].Value, block.Groups["name"].Value);
            Assert.True(expected == block.Groups["code"].Value, $"docs/agents.md shows {block.Groups["path"].Value}#{block.Groups["name"].Value} differently:\n{block.Groups["code"].Value}\n--- the test runs ---\n{expected}");
        }
    }

    [Fact]
    public void EveryRegionOfTheSdkTests_IsOnTheAgentsPage()
    {
        string page = File.ReadAllText(Path.Combine(Root, "docs", "agents.md"));
        var regions = Directory.EnumerateFiles(SdkScripts.Directory, "*", SearchOption.AllDirectories)
            .Where(f => Path.GetExtension(f) is ".cs" or ".mjs" or ".py" or ".sh")
            .SelectMany(f => File.ReadLines(f)
                .Select(line => StartMarker().Match(line.Trim()))
                .Where(m => m.Success)
                .Select(m => Path.GetRelativePath(Root, f).Replace('\\', '/') + "#" + m.Groups["name"].Value))
            .ToList();

        Assert.True(regions.Count > 10, "expected the SDK snippet regions");
        Assert.All(regions, region => Assert.Contains($"<!-- snippet: {region} -->", page, StringComparison.Ordinal));
    }

    /// <summary>The lines between the region's markers, with their common indentation removed.</summary>
    private static string Region(string path, string name)
    {
        string[] lines = File.ReadAllText(Path.Combine(Root, path)).ReplaceLineEndings("\n").Split('\n');
        int start = Array.FindIndex(lines, l => l.Trim() is var t && (t == "// snippet: " + name || t == "# snippet: " + name));
        Assert.True(start >= 0, $"{path} has no region {name}");
        int end = Array.FindIndex(lines, start + 1, l => l.Trim() is "// end snippet" or "# end snippet");
        Assert.True(end > start, $"{path}#{name} is not closed");

        string[] body = lines[(start + 1)..end].Select(l => string.IsNullOrWhiteSpace(l) ? string.Empty : l).ToArray();
        int indent = body.Where(l => l.Length > 0).Min(l => l.Length - l.TrimStart().Length);
        return string.Join('\n', body.Select(l => l.Length == 0 ? l : l[indent..]));
    }

    [GeneratedRegex("<!-- snippet: (?<path>[^#]+)#(?<name>[a-z0-9-]+) -->\\n```[a-z]+\\n(?<code>.*?)\\n```", RegexOptions.Singleline)]
    private static partial Regex MarkedBlock();

    [GeneratedRegex("^(//|#) snippet: (?<name>[a-z0-9-]+)$")]
    private static partial Regex StartMarker();
}
