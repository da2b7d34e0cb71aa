using Keybrake.DevHost;
using Keybrake.Domain.Export;
using Keybrake.Tests.DevHost;
using Keybrake.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Keybrake.Tests.Export;

/// <summary>The export's settings: the sample's defaults start the app with the export off; bad values stop it at start.</summary>
public sealed class ExportSettingsTests
{
    [Fact]
    public async Task SampleLocalSettings_StartTheApp_WithTheExportOff()
    {
        var sample = new Dictionary<string, string?>(LocalSettings.Read(Path.Combine(FunctionsMetadataTests.RepoRoot(), "local.settings.sample.json")));
        Assert.Contains("Export:Target", sample.Keys);
        Assert.Contains("Secrets:lago-api-key", sample.Keys);

        // The host under test brings its own storage and root token.
        foreach (string own in new[] { "Tables:ConnectionString", "Tables:Prefix", "Secrets:keybrake-root-token" })
        {
            sample.Remove(own);
        }

        await using KeybrakeHost host = await KeybrakeHost.StartAsync(sample);
        ExportOptions options = host.Services.GetRequiredService<ExportOptions>();
        Assert.Equal(("none", null, "keybrake_spend", 30), (options.Target, options.BaseUrl, options.EventName, options.TimeoutSeconds));
    }

    [Theory]
    [InlineData("Export:Target", "chargebee", "Export__Target")]
    [InlineData("Export:BaseUrl", "ftp://meter.example", "Export__BaseUrl")]
    [InlineData("Export:EventName", "keybrake spend", "Export__EventName")]
    [InlineData("Export:TimeoutSeconds", "0", "Export__TimeoutSeconds")]
    public async Task BadSetting_StopsTheAppAtStart(string setting, string value, string named)
    {
        OptionsValidationException refused = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            KeybrakeHost.StartAsync(new Dictionary<string, string?> { ["Export:Target"] = "lago", [setting] = value }));
        Assert.Contains(named, refused.Message, StringComparison.Ordinal);
    }
}
