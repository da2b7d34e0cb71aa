using Keybrake.Domain.Common;
using Keybrake.Domain.Labels;

namespace Keybrake.Tests.Domain;

public sealed class LabelTests
{
    [Fact]
    public void Parse_SplitsTheFourParts()
    {
        Label label = Label.Parse("acme:billing-agent:refunds:run-42");

        Assert.Equal(("acme", "billing-agent", "refunds", "run-42"), (label.Tenant, label.AgentType, label.Feature, label.RunId));
    }

    [Fact]
    public void Parse_AllowsMissingPartsAndColonsInTheRunId()
    {
        Assert.Equal((null, null, null), Parts(Label.Parse("acme")));
        Assert.Equal(("notify-agent", null, null), Parts(Label.Parse("acme:notify-agent")));
        Assert.Equal("run:7:retry", Label.Parse("acme:a:f:run:7:retry").RunId);
    }

    [Theory]
    [InlineData("")]
    [InlineData(":agent")]
    [InlineData("-acme:agent")]
    [InlineData("ACME:agent")]
    [InlineData("acme_corp:agent")]
    [InlineData("acme:agent/x")]
    [InlineData("acme:agent#x")]
    [InlineData("acme:agent\tx")]
    [InlineData("acme:agenté")]
    public void Parse_RejectsInvalidLabels(string value)
    {
        KeybrakeException e = Assert.Throws<KeybrakeException>(() => Label.Parse(value));
        Assert.StartsWith("label:", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_Accepts120CharactersButNot121()
    {
        Label.Parse("acme:" + new string('x', 115));
        Assert.Throws<KeybrakeException>(() => Label.Parse("acme:" + new string('x', 116)));
    }

    [Theory]
    [InlineData("acme:billing", "acme")]
    [InlineData("acme:", "acme")]
    [InlineData("acm", null)]
    [InlineData("", null)]
    public void TenantOfPrefix_IsKnownOnlyOnceTheTenantIsComplete(string prefix, string? tenant) =>
        Assert.Equal(tenant, Label.TenantOfPrefix(prefix));

    private static (string?, string?, string?) Parts(Label label) => (label.AgentType, label.Feature, label.RunId);
}
