using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Keybrake.Domain.Secrets;
using Keybrake.Functions.Composition;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Keybrake.Infra.Tests;

/// <summary>
/// The settings the code reads (found by running the composition, AddKeybrake, over a configuration that
/// records every read) against the app settings the Bicep writes. Every setting the code reads is set by the
/// Bicep or listed in docs/deploy.md as one the templates leave out; every setting the Bicep writes is read by
/// the code or by the Functions host.
/// </summary>
public sealed partial class AppSettingsCoverageTests
{
    // Written by the Bicep for the Functions host and the Application Insights SDK, not for our code.
    private static readonly string[] ReadByTheHost =
    [
        "AzureWebJobsStorage:credential",
        "AzureWebJobsStorage:clientId",
        "AzureWebJobsStorage:blobServiceUri",
        "AzureWebJobsStorage:queueServiceUri",
        "AzureWebJobsStorage:tableServiceUri",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    ];

    private static readonly Lazy<IReadOnlySet<string>> LazyCodeReads = new(ReadByTheCode);

    private static IReadOnlySet<string> CodeReads => LazyCodeReads.Value;

    [Fact]
    public void Recorder_SeesTheSettingsItMustSee()
    {
        // Guards the recorder itself: if it saw nothing, the comparisons below would prove nothing.
        string[] expected = ["Tables:ServiceUri", "KeyVault:Uri", "Export:Target", "Vendors:twilio:TimeoutSeconds", "Pricing:FxToUsd:*", "Secrets:*", "AZURE_CLIENT_ID"];
        var missing = expected.Where(e => !CodeReads.Contains(e)).ToList();
        Assert.True(missing.Count == 0, $"not seen: {string.Join(", ", missing)}; seen: {string.Join(", ", CodeReads.Order(StringComparer.Ordinal))}");
    }

    [Fact]
    public void EverySettingTheCodeReads_IsSetByTheBicep_OrListedInTheDeployGuideAsLeftOut()
    {
        var guide = File.ReadAllText(Path.Combine(ArmTemplate.RepositoryRoot, "docs", "deploy.md"));
        var unset = CodeReads
            .Where(read => !BicepSets.Contains(read))
            .Where(read => !guide.Contains(AsDocumented(read), StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.True(unset.Count == 0, $"read by the code, not set by the Bicep nor listed in docs/deploy.md: {string.Join(", ", unset)}");
    }

    [Fact]
    public void EverySettingTheBicepWrites_IsReadByTheCodeOrTheHost()
    {
        var unread = BicepSets
            .Where(set => !CodeReads.Contains(set) && !ReadByTheHost.Contains(set, StringComparer.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.True(unread.Count == 0, $"set by the Bicep, read by nothing: {string.Join(", ", unread)}");
    }

    [Fact]
    public void TheSettingsTheTemplatesLeaveOut_AreLocalOnly()
    {
        // Only these may be missing in Azure: a connection string (Azure uses Tables__ServiceUri with the
        // identity) and configuration secrets (Azure uses Key Vault).
        Assert.Equal("Secrets:*, Tables:ConnectionString",
            string.Join(", ", CodeReads.Where(read => !BicepSets.Contains(read)).Order(StringComparer.Ordinal)));
    }

    /// <summary>Every app setting the Bicep writes, as configuration paths ("A__B" is "A:B").</summary>
    private static HashSet<string> BicepSets
    {
        get
        {
            var (named, opaque) = FunctionAppTests.AppSettingsByName;
            Assert.Equal(["parameters('operatorSettings')"], opaque);
            var operatorSettings = ((JsonObject)ArmTemplate.Main.Variables["operatorSettingValues"]!).Select(s => s.Key);
            return named.Keys
                .Concat(operatorSettings)
                .Append("Pricing__FxToUsd__*") // fxSettings: one setting per currency (OperatorSettingsTests)
                .Select(s => s.Replace("__", ":", StringComparison.Ordinal))
                .ToHashSet(StringComparer.OrdinalIgnoreCase);
        }
    }

    // "Tables:ConnectionString" as `Tables__ConnectionString`; "Secrets:*" as `Secrets__{...}`.
    private static string AsDocumented(string path) => path.EndsWith(":*", StringComparison.Ordinal)
        ? $"`{path[..^2].Replace(":", "__", StringComparison.Ordinal)}__{{"
        : $"`{path.Replace(":", "__", StringComparison.Ordinal)}`";

    private static HashSet<string> ReadByTheCode()
    {
        var reads = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

        // Azure: Key Vault for secrets. Local: secrets from configuration.
        // The work queues' names are required (the queue triggers name them), as the Bicep writes them.
        reads.UnionWith(Compose(new()
        {
            ["Tables:ServiceUri"] = "https://st.table.core.windows.net/", ["KeyVault:Uri"] = "https://kv.vault.azure.net/",
            ["Queues:Reconcile"] = "keybrake-reconcile", ["Queues:Nightly"] = "keybrake-nightly",
        }));
        reads.UnionWith(Compose(new()
        {
            ["Tables:ConnectionString"] = "UseDevelopmentStorage=true", ["Queues:Reconcile"] = "keybrake-reconcile", ["Queues:Nightly"] = "keybrake-nightly",
        }));

        // Environment variables the code reads itself (DefaultAzureCredential reads AZURE_CLIENT_ID too).
        foreach (var project in new[] { "Domain", "Infrastructure", "Functions" })
        {
            var directory = Path.Combine(ArmTemplate.RepositoryRoot, "src", project);
            foreach (var file in Directory.EnumerateFiles(directory, "*.cs", SearchOption.AllDirectories)
                         .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                                  && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)))
            {
                reads.UnionWith(EnvironmentRead().Matches(File.ReadAllText(file)).Select(m => m.Groups[1].Value));
            }
        }

        return reads;
    }

    private static HashSet<string> Compose(Dictionary<string, string?> values)
    {
        var configuration = RecordingConfiguration.Over(new ConfigurationBuilder().AddInMemoryCollection(values).Build());
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<IConfiguration>(configuration); // as the Functions host registers it
        services.AddKeybrake(configuration);
        using var provider = services.BuildServiceProvider();
        var settings = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

        // Bind every options type the composition registered, by name (vendors are named options). The binder
        // lists the bound section first (so the first section listed is the one the options come from), but
        // skips a section that has no values; so the settings are the section plus the type's bindable
        // properties, as the binder maps them.
        foreach (var descriptor in services.Where(d => d.ServiceType.IsGenericType
                     && d.ServiceType.GetGenericTypeDefinition() == typeof(IConfigureOptions<>)
                     && d.ImplementationInstance?.GetType().IsGenericType == true
                     && d.ImplementationInstance.GetType().GetGenericTypeDefinition() == typeof(NamedConfigureFromConfigurationOptions<>)))
        {
            var optionsType = descriptor.ServiceType.GetGenericArguments()[0];
            var name = descriptor.ImplementationInstance?.GetType().GetProperty("Name")?.GetValue(descriptor.ImplementationInstance) as string
                ?? Options.DefaultName;
            int listedBefore = configuration.Log.ListedSections.Count;
            var monitor = provider.GetRequiredService(typeof(IOptionsMonitor<>).MakeGenericType(optionsType));
            monitor.GetType().GetMethod("Get", [typeof(string)])!.Invoke(monitor, [name]);
            var section = configuration.Log.ListedSections.Skip(listedBefore).FirstOrDefault();
            Assert.True(section is not null, $"binding {optionsType.Name} '{name}' listed no configuration section");
            settings.UnionWith(BindablePaths(section, optionsType));
        }

        // Secrets from configuration are read on use: ask for one.
        if (values.ContainsKey("Tables:ConnectionString"))
        {
            var secrets = provider.GetRequiredService<ISecretProvider>();
            _ = secrets.GetAsync("probe", "tenant", CancellationToken.None).AsTask().GetAwaiter().GetResult();
        }

        // Values read by key (configuration["KeyVault:Uri"], section[name]).
        settings.UnionWith(configuration.Log.Values
            .Select(path => path.StartsWith("Secrets:", StringComparison.OrdinalIgnoreCase) ? "Secrets:*" : path));
        return settings;
    }

    /// <summary>The configuration paths ConfigurationBinder fills on <paramref name="type"/> under <paramref name="section"/>.</summary>
    private static IEnumerable<string> BindablePaths(string section, Type type)
    {
        foreach (var property in type.GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance))
        {
            if (property.SetMethod is not { IsPublic: true } || property.GetIndexParameters().Length > 0)
            {
                continue; // get-only (e.g. AlertOptions.Webhook, derived from WebhookUrl): the binder leaves it alone
            }

            var path = $"{section}:{property.Name}";
            var propertyType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (propertyType.IsGenericType && propertyType.GetGenericTypeDefinition() == typeof(Dictionary<,>))
            {
                yield return $"{path}:*";
            }
            else if (propertyType.IsPrimitive || propertyType.IsEnum || propertyType == typeof(string) || propertyType == typeof(decimal)
                     || propertyType == typeof(TimeSpan) || propertyType == typeof(Uri) || propertyType == typeof(DateTimeOffset))
            {
                yield return path;
            }
            else
            {
                foreach (var nested in BindablePaths(path, propertyType))
                {
                    yield return nested;
                }
            }
        }
    }

    [GeneratedRegex(@"GetEnvironmentVariable\(""([A-Za-z0-9_]+)""\)")]
    private static partial Regex EnvironmentRead();
}
