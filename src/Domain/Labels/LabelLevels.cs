namespace Keybrake.Domain.Labels;

/// <summary>
/// A label's levels: <c>{tenant}:{agentType}:{feature}:{runId}</c>, split once here for parsing, spend grouping
/// and rollups. A missing or empty level is null; reports show it as <see cref="Unknown"/>.
/// </summary>
public readonly record struct LabelLevels(string Tenant, string? AgentType, string? Feature, string? RunId)
{
    /// <summary>How reports name a level the label leaves out.</summary>
    public const string Unknown = "unknown";

    /// <summary>The level names, outermost first; a level's depth is its index plus one.</summary>
    public static IReadOnlyList<string> Names { get; } = ["tenant", "agent_type", "feature", "run"];

    public static LabelLevels Of(string label)
    {
        string[] parts = label.Split(':', 4);
        string? At(int i) => parts.Length > i && parts[i].Length > 0 ? parts[i] : null;
        return new LabelLevels(parts[0], At(1), At(2), At(3));
    }

    /// <summary>How many levels <paramref name="level"/> (one of <see cref="Names"/>) spans, or 0 if it is none of them.</summary>
    public static int DepthOf(string level) => level switch
    {
        "tenant" => 1,
        "agent_type" => 2,
        "feature" => 3,
        "run" => 4,
        _ => 0,
    };

    /// <summary>The level at <paramref name="index"/> (0 = tenant), or <see cref="Unknown"/>.</summary>
    public string Part(int index) => (index switch
    {
        0 => Tenant.Length > 0 ? Tenant : null,
        1 => AgentType,
        2 => Feature,
        3 => RunId,
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    }) ?? Unknown;

    /// <summary>The first <paramref name="depth"/> levels joined by ':' (<c>acme:billing-agent:unknown</c>), a rollup's key.</summary>
    public string Path(int depth) => string.Join(':', Enumerable.Range(0, depth).Select(Part));
}
