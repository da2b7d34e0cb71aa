using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Keybrake.Infra.Tests;

/// <summary>
/// Every operator setting is a parameter fed from the azd environment, so `azd provision` (which replaces
/// all app settings) keeps what the operator chose instead of wiping what was set by hand.
/// </summary>
public sealed partial class OperatorSettingsTests
{
    private static readonly ArmTemplate Main = ArmTemplate.Main;

    private static JsonObject OperatorSettingValues => (JsonObject)Main.Variables["operatorSettingValues"]!;

    public static TheoryData<string> OperatorSettingNames()
    {
        var data = new TheoryData<string>();
        foreach (var setting in OperatorSettingValues)
        {
            data.Add(setting.Key);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(OperatorSettingNames))]
    public void OperatorSetting_IsAnEmptyByDefaultStringParameter_FedFromAKeybrakeEnvironmentValue(string setting)
    {
        var parameter = ParameterOf(Json.String(OperatorSettingValues[setting], setting));
        Assert.Equal("string", Json.String(Main.Parameters[parameter]?["type"], parameter));
        Assert.Equal("", Json.String(Main.Parameters[parameter]?["defaultValue"], parameter));
        Assert.Matches(KeybrakeValue(), ParameterFile.Value(parameter));
    }

    [Fact]
    public void EmptyOperatorSettings_AreLeftOut_SoTheAppsOwnDefaultsApply()
    {
        Assert.Equal(
            "[union(toObject(filter(items(variables('operatorSettingValues')), lambda('setting', not(empty(lambdaVariables('setting').value)))), lambda('setting', lambdaVariables('setting').key), lambda('setting', lambdaVariables('setting').value)), variables('fxSettings'), variables('timerSchedules'))]",
            Json.String(Main.Variables["operatorSettings"], "operatorSettings"));
    }

    [Fact]
    public void TimerSchedules_AreAlwaysWritten_EmptyMeaningTodaysSchedule()
    {
        // The Functions host does not index a timer whose %Timers:Name% setting is missing: unlike the other
        // operator settings, an empty value must not leave the setting out.
        var schedules = (JsonObject)Main.Variables["timerSchedules"]!;
        Assert.Equal(["Timers__BudgetAlerts", "Timers__DailyRollup", "Timers__DeliverAlerts", "Timers__ExportOutbox", "Timers__Reconciler"],
            schedules.Select(s => s.Key).Order(StringComparer.Ordinal));
        Assert.Equal("[if(empty(parameters('timerDailyRollup')), '0 5 0 * * *', parameters('timerDailyRollup'))]",
            Json.String(schedules["Timers__DailyRollup"], "Timers__DailyRollup"));
        Assert.Equal("${KEYBRAKE_TIMER_DAILY_ROLLUP=}", ParameterFile.Value("timerDailyRollup"));
    }

    [Fact]
    public void FxRates_AreOneParameter_SplitIntoOneSettingPerCurrency()
    {
        var fx = Json.String(Main.Variables["fxSettings"], "fxSettings");
        Assert.Contains("format('Pricing__FxToUsd__{0}', toLower(trim(first(split(lambdaVariables('pair'), '=')))))", fx, StringComparison.Ordinal);
        Assert.Equal("${KEYBRAKE_PRICING_FX_TO_USD=}", ParameterFile.Value("pricingFxToUsd"));
    }

    [Fact]
    public void AlertsWebhookUrl_IsFedFromTheAzdEnvironmentToo() =>
        Assert.Equal("${KEYBRAKE_ALERTS_WEBHOOK_URL=}", ParameterFile.Value("alertsWebhookUrl"));

    [Fact]
    public void ExportTarget_RefusesAnUnknownMeterAtProvisionTime() =>
        Assert.Equal(["", "none", "stripe_meters", "lago", "openmeter"],
            Main.Parameters["exportTarget"]?["allowedValues"]?.AsArray().Select(v => (string?)v));

    [Fact]
    public void EveryTemplateParameter_IsFedByTheParameterFile_AndNothingElseIs()
    {
        Assert.Equal(
            Main.Parameters.Select(p => p.Key).Order(StringComparer.Ordinal),
            ParameterFile.Parameters.Select(p => p.Key).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void EnvironmentValueNames_AreDistinct()
    {
        var names = ParameterFile.Parameters.Select(p => Json.String(p.Value?["value"], p.Key)).ToList();
        Assert.Equal(names.Count, names.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void DeployGuide_NamesEveryKeybrakeEnvironmentValue()
    {
        var guide = File.ReadAllText(Path.Combine(ArmTemplate.RepositoryRoot, "docs", "deploy.md"));
        var missing = ParameterFile.Parameters
            .Select(p => KeybrakeValue().Match(Json.String(p.Value?["value"], p.Key)))
            .Where(m => m.Success)
            .Select(m => m.Groups[1].Value)
            .Where(name => !guide.Contains(name, StringComparison.Ordinal));
        Assert.Empty(missing);
    }

    [Fact]
    public void DeployGuide_NeverSetsAppSettingsByHand()
    {
        // A setting set with the CLI or the portal is wiped by the next `azd provision`.
        var guide = File.ReadAllText(Path.Combine(ArmTemplate.RepositoryRoot, "docs", "deploy.md"));
        Assert.DoesNotContain("appsettings set", guide, StringComparison.Ordinal);
        Assert.Contains("azd env set", guide, StringComparison.Ordinal);
        Assert.Contains("azd provision", guide, StringComparison.Ordinal);
    }

    private static string ParameterOf(string value)
    {
        var match = ParameterReference().Match(value);
        Assert.True(match.Success, $"'{value}' is not a plain parameter reference");
        return match.Groups[1].Value;
    }

    [GeneratedRegex(@"^\[parameters\('([A-Za-z0-9]+)'\)\]$")]
    private static partial Regex ParameterReference();

    [GeneratedRegex(@"^\$\{(KEYBRAKE_[A-Z0-9_]+)=[^}]*\}$")]
    private static partial Regex KeybrakeValue();
}
