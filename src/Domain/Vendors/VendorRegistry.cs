namespace Keybrake.Domain.Vendors;

/// <summary>The vendors the proxy knows, by route name.</summary>
public sealed class VendorRegistry(IEnumerable<VendorDefinition> vendors)
{
    private readonly Dictionary<string, VendorDefinition> _byName = vendors.ToDictionary(v => v.Name, StringComparer.Ordinal);

    public IReadOnlyCollection<string> Names => _byName.Keys;

    public VendorDefinition? Find(string? name) => name is not null && _byName.TryGetValue(name, out VendorDefinition? vendor) ? vendor : null;
}
