using Keybrake.Domain.Common;
using Keybrake.Domain.Labels;
using Keybrake.Domain.Operators;

namespace Keybrake.Domain.Tests.Labels;

/// <summary>
/// Labels <c>{tenantId}:{agentType}:{feature}:{runId}</c> (docs/design.md §2), their alphabet (tenants end up in
/// table keys and Key Vault secret names, docs/design.md §2 and §6) and prefixes, where a tenant is only confined by
/// its ':' separator (<c>acme</c> is also the start of <c>acme2</c>).
/// </summary>
public sealed class LabelTests
{
    [Theory]
    [InlineData("acme:billing-agent:invoices:run-42", "acme", "billing-agent", "invoices", "run-42")]
    [InlineData("acme", "acme", null, null, null)]
    [InlineData("acme:", "acme", null, null, null)]
    [InlineData("acme:notify-agent", "acme", "notify-agent", null, null)]
    [InlineData("acme::sms", "acme", null, "sms", null)] // an empty level is absent, the next one still counts
    [InlineData("acme:a:f:run:with:colons", "acme", "a", "f", "run:with:colons")] // the run id keeps the rest
    [InlineData("0-9:A B:x.y:z", "0-9", "A B", "x.y", "z")]
    public void ALabel_IsSplitIntoItsFourLevels(string value, string tenant, string? agentType, string? feature, string? runId)
    {
        Label label = Label.Parse(value);

        Assert.Equal((value, tenant, agentType, feature, runId), (label.Value, label.Tenant, label.AgentType, label.Feature, label.RunId));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(":billing-agent")] // no tenant
    [InlineData("Acme:x")] // Key Vault names are case-insensitive: one tenant, one spelling
    [InlineData("-acme:x")]
    [InlineData("ac_me:x")]
    [InlineData("ac.me:x")]
    [InlineData("acm\u00E9:x")]
    [InlineData("acme:a/b")] // '/', '\', '#' and '?' cannot be in table keys or a URL path segment
    [InlineData("acme:a\\b")]
    [InlineData("acme:a#b")]
    [InlineData("acme:a?b")]
    [InlineData("acme:a\tb")]
    [InlineData("acme:a\u007Fb")]
    [InlineData("acme:caf\u00E9")]
    public void AnInvalidLabel_IsRefused(string? value)
    {
        KeybrakeException refused = Assert.Throws<KeybrakeException>(() => Label.Parse(value));

        Assert.Equal((ErrorKind.Validation, "invalid_request"), (refused.Kind, refused.Code));
        Assert.StartsWith("label:", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Lengths_AreBounded_TheTenantAt63_TheLabelAt120()
    {
        string tenant63 = new('a', 63);
        Assert.Equal(tenant63, Label.Parse(tenant63 + ":x").Tenant);
        Assert.Throws<KeybrakeException>(() => Label.Parse(new string('a', 64) + ":x"));

        string label120 = "acme:" + new string('x', 115);
        Assert.Equal(label120, Label.Parse(label120).Value);
        Assert.Throws<KeybrakeException>(() => Label.Parse(label120 + "x"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("a")] // a prefix may stop inside a tenant's name
    [InlineData("acme")]
    [InlineData("acme:")]
    [InlineData("acme:billing")]
    public void AValidPrefix_IsAccepted(string? prefix) => Label.ValidatePrefix(prefix);

    [Theory]
    [InlineData("-a")]
    [InlineData("Ac")]
    [InlineData("acme:a/b")]
    [InlineData(":x")]
    public void AnInvalidPrefix_IsRefusedInItsField(string prefix) =>
        Assert.StartsWith("label_prefix:", Assert.Throws<KeybrakeException>(() => Label.ValidatePrefix(prefix)).Message, StringComparison.Ordinal);

    [Theory]
    [InlineData("acme:", "acme")]
    [InlineData("acme:billing-agent:x", "acme")]
    [InlineData("acme", null)] // could be acme2's start as well
    [InlineData("", null)]
    [InlineData(null, null)]
    public void APrefix_NamesATenant_OnlyWithItsSeparator(string? prefix, string? tenant) => Assert.Equal(tenant, Label.TenantOfPrefix(prefix));

    [Theory]
    [InlineData("acme", true)]
    [InlineData("a-1", true)]
    [InlineData("9lives", true)]
    [InlineData("", false)]
    [InlineData(null, false)]
    [InlineData("-a", false)]
    [InlineData("a:b", false)]
    [InlineData("ACME", false)]
    public void Tenants_AreLowercaseLettersDigitsAndDashes(string? tenant, bool valid) => Assert.Equal(valid, Label.IsValidTenant(tenant));

    [Theory]
    [InlineData("acme:billing-agent", true)]
    [InlineData("acme", true)]
    [InlineData("acme2:billing-agent", false)] // another tenant, same first letters
    [InlineData("acme2", false)]
    [InlineData("acm", false)]
    [InlineData("globex:acme:x", false)]
    public void ATenantToken_SeesOnlyItsOwnTenantsLabels(string label, bool visible)
    {
        Assert.Equal(visible, new OperatorPrincipal("acme", "tok_1").CanSeeLabel(label));
        Assert.True(OperatorPrincipal.Root.CanSeeLabel(label));
    }

    [Theory]
    [InlineData(null, "acme:")]
    [InlineData("", "acme:")]
    [InlineData("acme", "acme:")] // its own tenant, narrowed so it cannot reach acme2
    [InlineData("acme:", "acme:")]
    [InlineData("acme:billing", "acme:billing")]
    public void ATenantTokensPrefix_IsConfinedToItsTenant(string? prefix, string scoped) =>
        Assert.Equal(scoped, new OperatorPrincipal("acme", "tok_1").ScopePrefix(prefix));

    [Theory]
    [InlineData("acme2")]
    [InlineData("acme2:")]
    [InlineData("ac")]
    [InlineData("globex:")]
    public void ATenantTokensPrefixBeyondItsTenant_IsRefused_NotNarrowed(string prefix) =>
        Assert.Equal(ErrorKind.Forbidden, Assert.Throws<KeybrakeException>(() => new OperatorPrincipal("acme", "tok_1").ScopePrefix(prefix)).Kind);

    [Theory]
    [InlineData(null, "")]
    [InlineData("ac", "ac")]
    [InlineData("acme2:", "acme2:")]
    public void RootsPrefix_IsUsedAsGiven(string? prefix, string scoped) => Assert.Equal(scoped, OperatorPrincipal.Root.ScopePrefix(prefix));
}
