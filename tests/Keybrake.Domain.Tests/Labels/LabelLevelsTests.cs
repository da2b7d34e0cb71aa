using Keybrake.Domain.Labels;

namespace Keybrake.Domain.Tests.Labels;

public sealed class LabelLevelsTests
{
    [Theory]
    [InlineData("acme", "acme", null, null, null)]
    [InlineData("acme:billing-agent", "acme", "billing-agent", null, null)]
    [InlineData("acme::refunds:", "acme", null, "refunds", null)]
    [InlineData("acme:a:f:run:with:colons", "acme", "a", "f", "run:with:colons")]
    public void Of_SplitsIntoFourLevels_EmptyOnesNull(string label, string tenant, string? agentType, string? feature, string? runId) =>
        Assert.Equal(new LabelLevels(tenant, agentType, feature, runId), LabelLevels.Of(label));

    [Theory]
    [InlineData("acme:billing-agent:x:run-1", 2, "acme:billing-agent")]
    [InlineData("acme::x", 3, "acme:unknown:x")]
    [InlineData("acme", 4, "acme:unknown:unknown:unknown")]
    public void Path_NamesMissingLevelsUnknown(string label, int depth, string path) =>
        Assert.Equal(path, LabelLevels.Of(label).Path(depth));

    [Fact]
    public void Part_IsTheLevelAlone()
    {
        LabelLevels levels = LabelLevels.Of("acme::refunds");

        Assert.Equal(["acme", "unknown", "refunds", "unknown"], Enumerable.Range(0, 4).Select(levels.Part));
    }

    [Fact]
    public void DepthOf_FollowsTheLevelNames()
    {
        Assert.Equal([1, 2, 3, 4], LabelLevels.Names.Select(LabelLevels.DepthOf));
        Assert.Equal(0, LabelLevels.DepthOf("label"));
    }

    [Fact]
    public void Parse_UsesTheSameLevels()
    {
        Label label = Label.Parse("acme::refunds:run-9");

        Assert.Equal(("acme", (string?)null, "refunds", "run-9"), (label.Tenant, label.AgentType, label.Feature, label.RunId));
    }
}
