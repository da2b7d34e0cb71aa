using System.Diagnostics;
using System.Text.Json;
using Keybrake.Tests.Support;

namespace Keybrake.Tests.Sdk;

/// <summary>
/// stripe-python, twilio-python and resend-python configured as docs/agents.md says, where python3 has those
/// packages; skipped with the reason otherwise (PyPI is not reachable from the project's machines).
/// </summary>
public sealed class PythonSdkTests : IAsyncLifetime
{
    private ProxyHost _proxy = null!;

    public async Task InitializeAsync() => _proxy = await ProxyHost.StartAsync();

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    [PythonSdkFact]
    public async Task StripePython_WithApiBase_ChargesAndRefunds()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-1", "stripe", "POST /v1/payment_intents", "POST /v1/refunds");

        JsonElement result = Ok(await SdkScripts.PythonAsync("stripe-charge-refund", _proxy.Host.BaseAddress, key.Str("key")));

        Assert.Equal("succeeded", result.GetProperty("intent").Str("status"));
        Assert.Equal(500, result.GetProperty("refund").GetProperty("amount").GetInt32());
        Assert.Equal(["/v1/payment_intents", "/v1/refunds"], _proxy.Vendors.Stripe.Ledger.Select(e => e.Path));
        SdkScripts.AssertNeverReached(_proxy.Vendors.Stripe, key.Str("key"));
    }

    [PythonSdkFact]
    public async Task StripePython_CapDenial_IsARateLimitError_WithKeybrakesCode()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:billing-agent:checkout:run-2", "stripe", "POST /v1/payment_intents");

        JsonElement cap = Ok(await SdkScripts.PythonAsync("stripe-denied", _proxy.Host.BaseAddress, key.Str("key"))).GetProperty("cap");

        Assert.Equal("RateLimitError", cap.Str("class"));
        Assert.Equal(429, cap.GetProperty("status").GetInt32());
        Assert.Equal("keybrake_cap_exceeded", cap.Str("code"));
        Assert.Empty(_proxy.Vendors.Stripe.Ledger);
    }

    [PythonSdkFact]
    public async Task TwilioPython_ThroughItsHttpClientHook_SendsAnSms()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:notify-agent:sms:run-1", "twilio", "POST /2010-04-01/Accounts/*/Messages");

        JsonElement result = Ok(await SdkScripts.PythonAsync("twilio-sms", _proxy.Host.BaseAddress, key.Str("key")));

        Assert.Matches("^SM[0-9a-f]{32}$", result.Str("sid"));
        Assert.Single(_proxy.Vendors.Twilio.Ledger);
        SdkScripts.AssertNeverReached(_proxy.Vendors.Twilio, key.Str("key"));
    }

    [PythonSdkFact]
    public async Task ResendPython_WithApiUrl_SendsOneEmailAndABatch()
    {
        JsonElement key = await _proxy.IssueKeyAsync("acme:notify-agent:receipts:run-1", "resend", "POST /emails", "POST /emails/batch");

        Ok(await SdkScripts.PythonAsync("resend-single-batch", _proxy.Host.BaseAddress, key.Str("key")));

        Assert.Equal(["/emails", "/emails/batch"], _proxy.Vendors.Resend.Ledger.Select(e => e.Path));
        Assert.Equal(3, _proxy.Vendors.Resend.Emails.Count);
        SdkScripts.AssertNeverReached(_proxy.Vendors.Resend, key.Str("key"));
    }

    private static JsonElement Ok(JsonElement outcome)
    {
        Assert.True(outcome.GetProperty("ok").GetBoolean(), "the SDK call failed: " + outcome.GetRawText());
        return outcome.GetProperty("result");
    }
}

/// <summary>A fact that runs only where python3 can import stripe, twilio and resend, and says why otherwise.</summary>
public sealed class PythonSdkFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> Missing = new(FindMissing);

    public PythonSdkFactAttribute()
    {
        if (Missing.Value is string reason)
        {
            Skip = reason;
        }
    }

    private static string? FindMissing()
    {
        const string why = "Python SDK tests skipped: python3 with the stripe, twilio and resend packages is not available on this machine " +
            "(PyPI is not reachable here; `pip install stripe twilio resend` where it is, then rerun)";
        try
        {
            var start = new ProcessStartInfo("python3") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add("import stripe, twilio, resend");
            using Process process = Process.Start(start)!;
            string error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode == 0 ? null : $"{why}: {error.Trim().Split('\n').Last()}";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return why + ": python3 is not installed.";
        }
    }
}
