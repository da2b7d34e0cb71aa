namespace Keybrake.Domain.Proxy;

/// <summary>What the proxy knows about an agent's request once the policy has parsed it.</summary>
public sealed record ProxyCall(
    string Vendor,
    string Method,
    IReadOnlyList<string> Segments,
    string Operation,
    string? ContentType,
    ReadOnlyMemory<byte> Body,
    string? IdempotencyKey)
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

/// <summary>What a call is expected to cost, known before it is forwarded; reserved against caps.</summary>
public sealed record CostEstimate(long CostMicros, string? Currency = null, long? AmountMinor = null)
{
    public static CostEstimate Free { get; } = new(0);
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
