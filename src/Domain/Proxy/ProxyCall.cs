namespace Keybrake.Domain.Proxy;

/// <summary>What the proxy knows about an agent's request once the policy has parsed it.</summary>
public sealed record ProxyCall(
    string Vendor,
    string Method,
    IReadOnlyList<string> Segments,
    string Operation,
    string? ContentType,
    ReadOnlyMemory<byte> Body,
    string? IdempotencyKey,
    string? Query = null,
    string? ContentEncoding = null)
{
    public string Path => PathNormalizer.Encode(Segments);

    public bool IsRead => Method is "GET" or "HEAD" or "OPTIONS";
}

/// <summary>Where a cost figure came from.</summary>
public static class CostSource
{
    public const string Parsed = "parsed";
    public const string Estimated = "estimated";
    public const string Settled = "settled";
}

/// <summary>
/// What a call may cost at most, known before it is forwarded; reserved against caps. Where the request
/// alone does not bound it, either <see cref="LookupPath"/> names the vendor object whose read bounds it
/// (an invoice's remaining amount), or <see cref="WholeAllowance"/> asks for everything the key may still
/// spend: the proxy resolves both before reserving.
/// </summary>
public sealed record CostEstimate(long CostMicros, string? Currency = null, long? AmountMinor = null)
{
    public static CostEstimate Free { get; } = new(0);

    /// <summary>Nothing in the request bounds this call: reserve the key's whole remaining allowance.</summary>
    public static CostEstimate Unbounded { get; } = new(0) { WholeAllowance = true };

    /// <summary>The bound is read from this vendor object (a GET path) with the real secret before forwarding.</summary>
    public IReadOnlyList<string>? LookupPath { get; init; }

    public bool WholeAllowance { get; init; }

    public static CostEstimate Lookup(IReadOnlyList<string> path) => new(0) { LookupPath = path };
}

/// <summary>What a call cost, from the vendor's response (or the estimate when the response says nothing).</summary>
public sealed record CallCost(
    long CostMicros,
    string Source,
    long? FeeMicros = null,
    string? Currency = null,
    long? AmountMinor = null,
    string? VendorObjectId = null)
{
    public static CallCost Nothing { get; } = new(0, CostSource.Parsed);
}
