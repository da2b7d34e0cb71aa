using System.Text;
using System.Text.Json;
using Keybrake.Domain.Proxy;

namespace Keybrake.Domain.Vendors;

/// <summary>The upstream credentials and path for one call.</summary>
public sealed record UpstreamAuthorization(string AuthorizationHeader, IReadOnlyList<string> Segments);

/// <summary>A denial or error body in the vendor's own shape, so the vendor's SDK raises a readable error.</summary>
public sealed record VendorErrorBody(string ContentType, string Body);

/// <summary>
/// Everything vendor-specific in one place: where it lives, how agents present vault keys and how the
/// real secret is injected, how operations are named, what a call is expected to cost and what it did
/// cost, and what its errors look like. A new vendor is one subclass registered in <see cref="VendorRegistry"/>.
/// </summary>
public abstract class VendorDefinition
{
    public abstract string Name { get; }

    public abstract Uri DefaultBaseUrl { get; }

    /// <summary>Secret names this vendor needs; all are read (tenant override first) before forwarding.</summary>
    public abstract IReadOnlyList<string> SecretNames { get; }

    /// <summary>
    /// Request headers every vendor gets from the agent: the body's type and language, content negotiation
    /// and the SDK's identity. Not <c>Content-Encoding</c> (the cost estimate reads the body as sent) nor
    /// <c>Accept-Encoding</c> (answers are scrubbed of secrets, which needs them uncompressed).
    /// </summary>
    protected static readonly IReadOnlySet<string> CommonRequestHeaders = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "Content-Type", "Content-Language", "Accept", "Accept-Language", "User-Agent",
    };

    /// <summary>
    /// The client request headers forwarded upstream: an allow list (case-insensitive), so a header nobody
    /// thought of (<c>X-HTTP-Method-Override</c>, <c>True-Client-IP</c>, …) never reaches the vendor.
    /// Each vendor lists what its API documents; credentials are never on it (the proxy sets them).
    /// </summary>
    public abstract IReadOnlySet<string> ForwardedRequestHeaders { get; }

    protected static IReadOnlySet<string> WithCommon(params string[] headers) =>
        new HashSet<string>(CommonRequestHeaders.Concat(headers), StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The secrets that are credentials, scrubbed from every answer before it reaches the agent. By default
    /// all of <see cref="SecretNames"/>; a vendor leaves out identifiers its answers carry by design.
    /// </summary>
    public virtual IReadOnlyList<string> CredentialSecretNames => SecretNames;

    /// <summary>Response headers that carry the vendor's request id, for the audit row.</summary>
    public virtual string RequestIdHeader => "Request-Id";

    /// <summary>
    /// A response header whose value <c>true</c> says the vendor answered from an earlier call with the same
    /// Idempotency-Key (it moved nothing this time), or null when the vendor sends no such signal.
    /// </summary>
    public virtual string? ReplayedHeader => null;

    /// <summary>The vault key from the agent's Authorization header, where the vendor's SDK puts its secret.</summary>
    public abstract string? ReadVaultKey(string? authorization);

    public abstract UpstreamAuthorization Authorize(IReadOnlyDictionary<string, string> secrets, IReadOnlyList<string> segments);

    /// <summary>The path as the allowlist sees it (Twilio drops its <c>.json</c> format suffix).</summary>
    public virtual IReadOnlyList<string> MatchSegments(IReadOnlyList<string> segments) => segments;

    public abstract string Operation(string method, IReadOnlyList<string> segments);

    /// <summary>
    /// An upper bound on what the call can cost, from the request alone, or a note of where the bound comes
    /// from (<see cref="CostEstimate.LookupPath"/>, <see cref="CostEstimate.WholeAllowance"/>). Never 0 for a
    /// call that can move money. Throws a validation error (<see cref="RequestParameters.Unreadable"/> among
    /// them) to refuse the call before it is forwarded.
    /// </summary>
    public abstract CostEstimate Estimate(ProxyCall call);

    /// <summary>The bound of a call whose <see cref="CostEstimate.LookupPath"/> the proxy read (<paramref name="found"/>).</summary>
    public virtual CostEstimate BoundFromLookup(ProxyCall call, JsonElement found) =>
        throw new InvalidOperationException($"{Name} asks for no look-ups.");

    /// <summary>Whether <see cref="Settle"/> needs the response body of this call.</summary>
    public abstract bool CostNeedsResponseBody(ProxyCall call);

    /// <summary>
    /// The real cost from a successful (2xx) response. <paramref name="body"/> is empty when it was not
    /// buffered (too large), and then the estimate stands.
    /// </summary>
    public CallCost Settle(ProxyCall call, CostEstimate estimate, ReadOnlySpan<byte> body)
    {
        if (!CostNeedsResponseBody(call))
        {
            return CallCost.Nothing;
        }

        if (body.IsEmpty)
        {
            return new CallCost(estimate.CostMicros, CostSource.Estimated, null, estimate.Currency, estimate.AmountMinor);
        }

        using JsonDocument document = JsonDocument.Parse(body.ToArray());
        return SettleFromResponse(call, estimate, document.RootElement);
    }

    /// <summary>The cost of a call whose operation needs its response, from the parsed JSON body (<paramref name="root"/>).</summary>
    protected abstract CallCost SettleFromResponse(ProxyCall call, CostEstimate estimate, JsonElement root);

    public abstract VendorErrorBody Error(int status, string code, string message);

    /// <summary>
    /// Where the final price of an earlier call can be read later (a GET path), or null when the vendor
    /// prices calls at once. Used by the reconciler.
    /// </summary>
    public virtual IReadOnlyList<string>? SettlementPath(string? operation, string? objectId) => null;

    /// <summary>The final cost from the object at <see cref="SettlementPath"/>, or null while it is not priced.</summary>
    public virtual long? SettledCost(JsonElement root) => null;

    /// <summary>
    /// The body forwarded upstream. A vendor may tag a money-moving create with <paramref name="reference"/>
    /// so that a call left in doubt can be found later without keeping the body.
    /// </summary>
    public virtual ReadOnlyMemory<byte> TagForLookup(ProxyCall call, string reference) => call.Body;

    /// <summary>A GET (path and query) that finds the object a tagged call created, or null when the vendor cannot search.</summary>
    public virtual (IReadOnlyList<string> Segments, string Query)? InDoubtSearch(string? operation, string reference) => null;

    /// <summary>What the call found by <see cref="InDoubtSearch"/> cost: 0 when the search found nothing.</summary>
    public virtual long InDoubtCost(JsonElement searchResult) => 0;

    /// <summary>
    /// Which objects a call names, lists or creates, for the ownership check on a shared vendor account
    /// (docs/design.md §3 step 5). <paramref name="query"/> is the raw query string (with or without its <c>?</c>).
    /// A vendor that does not describe its objects refuses every call on a shared account: fail closed.
    /// </summary>
    public virtual ObjectScope Objects(ProxyCall call, string? query) =>
        new([], Refusal: $"{Name} calls cannot be scoped to a tenant on a shared {Name} account.");

    /// <summary>
    /// Whether objects this vendor creates through the proxy carry their owner at the vendor (so nothing
    /// needs to be written to the ownership table), or only in Keybrake's table.
    /// </summary>
    public virtual bool TagsOwnerAtVendor => false;

    /// <summary>
    /// The header that makes a call act on another account of the vendor (Stripe Connect's <c>Stripe-Account</c>),
    /// or null. Only the proxy sets it, for a key issued bound to that account.
    /// </summary>
    public virtual string? AccountHeader => null;

    /// <summary>
    /// Other headers that switch the account a call acts on, which no key can be bound to (Stripe's
    /// <c>Stripe-Context</c>). A request carrying one is refused: dropping it would act on the platform account instead.
    /// </summary>
    public virtual IReadOnlyList<string> RefusedAccountHeaders => [];

    /// <summary>The body forwarded for a create on a shared account: tagged with its owner where the vendor can keep it.</summary>
    public virtual ProxyCall TagOwner(ProxyCall call, string tenant) => call;

    /// <summary>Ids of the objects a successful create answered with (one create may make several: a charge and its intent).</summary>
    public virtual IReadOnlyList<string> CreatedObjects(ProxyCall call, JsonElement root) => [];

    /// <summary>What an object (fetched at a named object's look-up path, or an item of a list) says about its owner.</summary>
    public virtual OwnerHint OwnerOf(JsonElement found) => OwnerHint.Unknown;

    /// <summary>The array of objects in a list answer, or null when the answer has no such array (it cannot be filtered).</summary>
    public virtual string? ListItemsProperty => null;

    protected static IEnumerable<(string Name, string Value)> Pairs(ReadOnlySpan<byte> form, string? query)
    {
        var pairs = new List<(string, string)>();
        foreach (string source in new[] { Encoding.UTF8.GetString(form), query?.TrimStart('?') ?? string.Empty })
        {
            foreach (string pair in source.Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                int equals = pair.IndexOf('=', StringComparison.Ordinal);
                pairs.Add((Decode(equals < 0 ? pair : pair[..equals]), equals < 0 ? string.Empty : Decode(pair[(equals + 1)..])));
            }
        }

        return pairs;

        static string Decode(string value) => Uri.UnescapeDataString(value.Replace('+', ' '));
    }

    protected static string? Bearer(string? authorization) =>
        authorization is not null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
            ? authorization[7..].Trim()
            : null;

    protected static (string User, string Password)? Basic(string? authorization)
    {
        if (authorization is null || !authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        try
        {
            string decoded = Encoding.UTF8.GetString(Convert.FromBase64String(authorization[6..].Trim()));
            int colon = decoded.IndexOf(':', StringComparison.Ordinal);
            return colon < 0 ? null : (decoded[..colon], decoded[(colon + 1)..]);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    protected static string BasicHeader(string user, string password) =>
        "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password));
}
