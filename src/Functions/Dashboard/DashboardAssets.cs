using System.Collections.Frozen;
using System.Reflection;
using System.Security.Cryptography;

namespace Keybrake.Functions.Dashboard;

/// <summary>A static file of the dashboard, with the validator a browser revalidates it with.</summary>
public sealed record DashboardAsset(byte[] Content, string ContentType, string ETag);

/// <summary>
/// The dashboard's files, embedded in this assembly at build time (see the csproj): the page works with no
/// internet and is always the version of the API it runs beside.
/// </summary>
public static class DashboardAssets
{
    private const string ResourcePrefix = "dashboard/";

    private static readonly FrozenDictionary<string, string> ContentTypes = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        [".html"] = "text/html; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private static readonly Lazy<FrozenDictionary<string, DashboardAsset>> All = new(Load);

    /// <summary>The asset at a path under /dashboard; the empty path (and index.html) is the page.</summary>
    public static DashboardAsset? Find(string? path)
    {
        string name = string.IsNullOrEmpty(path) ? "index.html" : path;
        return All.Value.GetValueOrDefault(name);
    }

    private static FrozenDictionary<string, DashboardAsset> Load()
    {
        Assembly assembly = typeof(DashboardAssets).Assembly;
        var assets = new Dictionary<string, DashboardAsset>(StringComparer.Ordinal);
        foreach (string resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            using Stream stream = assembly.GetManifestResourceStream(resource)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            byte[] content = buffer.ToArray();
            string etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(content).AsSpan(0, 16)) + "\"";
            assets[resource[ResourcePrefix.Length..]] = new DashboardAsset(content, ContentTypes[Path.GetExtension(resource)], etag);
        }

        return assets.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
