using System.Collections.Concurrent;
using System.Text.Json;

namespace Keybrake.Domain.Proxy;

/// <summary>How a call that lists objects is treated on a shared vendor account.</summary>
public enum ListScope
{
    /// <summary>Not a list.</summary>
    None,

    /// <summary>The vendor's answer is filtered to the tenant's objects before it reaches the agent.</summary>
    Filter,

    /// <summary>The answer cannot be filtered without a storage read per item: the call is refused.</summary>
    Refuse,
}

/// <summary>
/// What one call does to vendor objects, read from the request alone (docs/design.md §3 step 5): the ids it names
/// in its path or in parameters that reference an object, whether it lists, whether it creates, or why it
/// must be refused outright.
/// </summary>
public sealed record ObjectScope(IReadOnlyList<NamedObject> Named, ListScope List = ListScope.None, bool Creates = false, string? Refusal = null)
{
    public static ObjectScope None { get; } = new([]);

    /// <summary>Ids that can be table keys and sent back in a look-up path; anything else is refused, not escaped.</summary>
    public static bool IsPlainId(string id) =>
        id.Length is > 0 and <= 255 && id.All(c => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_' or '-');
}

/// <summary>An object a call names, and where it can be read with the real secret to learn its owner (null: nowhere).</summary>
public sealed record NamedObject(string Id, IReadOnlyList<string>? LookupPath);

/// <summary>What a vendor object fetched with the real secret says about its owner.</summary>
/// <param name="Tenant">The owner the vendor recorded for it (Stripe's <c>metadata[keybrake_tenant]</c>).</param>
/// <param name="Follow">An object whose owner is this one's too (a charge's payment intent), when it names no tenant.</param>
public sealed record OwnerHint(string? Tenant, NamedObject? Follow)
{
    public static OwnerHint Unknown { get; } = new(null, null);
}

/// <summary>Owners of vendor objects created through the proxy, for vendors that cannot tag objects themselves.</summary>
public interface IObjectOwnershipStore
{
    /// <summary>The owning tenant, or null when the proxy never recorded the object.</summary>
    Task<string?> OwnerAsync(string vendor, string objectId, CancellationToken cancellationToken);

    /// <summary>Records <paramref name="tenant"/> as the owner; an object already recorded keeps its first owner.</summary>
    Task RecordAsync(string vendor, IReadOnlyList<string> objectIds, string tenant, CancellationToken cancellationToken);
}

/// <summary>
/// Owners already established on this instance. An owner never changes once an object exists, so entries
/// never go stale; the cache is only bounded in size. "No owner" is never cached: the platform may tag
/// the object later.
/// </summary>
public sealed class ObjectOwnershipCache(int capacity = 200_000)
{
    private readonly ConcurrentDictionary<string, string> _owners = new(StringComparer.Ordinal);

    /// <summary>Owners held now: the soak prints it to show the bound holds.</summary>
    public int Count => _owners.Count;

    public string? Get(string vendor, string objectId) => _owners.TryGetValue(vendor + "|" + objectId, out string? owner) ? owner : null;

    public void Set(string vendor, string objectId, string tenant)
    {
        if (_owners.Count >= capacity)
        {
            // Dropping everything is safe (a miss costs one read) and keeps memory bounded without an LRU.
            _owners.Clear();
        }

        _owners.TryAdd(vendor + "|" + objectId, tenant);
    }
}

/// <summary>Small JSON helpers shared by the vendors' ownership parsing.</summary>
public static class OwnershipJson
{
    public static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    /// <summary>An expandable reference: the id string, or the expanded object's <c>id</c>.</summary>
    public static string? Reference(JsonElement element, string name)
    {
        if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(name, out JsonElement value))
        {
            return null;
        }

        return value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Object => Text(value, "id"),
            _ => null,
        };
    }
}
