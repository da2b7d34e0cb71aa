using System.Text.Json;
using Microsoft.Extensions.Configuration;

namespace Keybrake.DevHost;

/// <summary>
/// Reads the <c>Values</c> of a Functions <c>local.settings.json</c>, turning <c>__</c> into ':' as the
/// Functions host does, so <c>func start</c> and the development host run with the same settings.
/// </summary>
public static class LocalSettings
{
    public static IReadOnlyDictionary<string, string?> Read(string path)
    {
        using JsonDocument document = JsonDocument.Parse(File.ReadAllText(path));
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        if (document.RootElement.TryGetProperty("Values", out JsonElement section))
        {
            foreach (JsonProperty property in section.EnumerateObject())
            {
                values[property.Name.Replace("__", ":", StringComparison.Ordinal)] = property.Value.ValueKind == JsonValueKind.String
                    ? property.Value.GetString()
                    : property.Value.GetRawText();
            }
        }

        return values;
    }

    public static IConfigurationBuilder AddLocalSettings(this IConfigurationBuilder configuration, string? path)
    {
        return path is not null && File.Exists(path) ? configuration.AddInMemoryCollection(Read(path)) : configuration;
    }
}
