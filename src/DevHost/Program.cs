using Keybrake.DevHost;
using Keybrake.Domain.Secrets;
using Keybrake.Sandbox;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;

// The development host: serves the Functions app's HTTP functions on Kestrel, for machines without
// Azure Functions Core Tools. Settings come from src/Functions/local.settings.json, like `func start`.
string settings = args.SkipWhile(a => a != "--settings").Skip(1).FirstOrDefault()
    ?? Path.Combine(Directory.GetCurrentDirectory(), "src", "Functions", "local.settings.json");
string urls = args.SkipWhile(a => a != "--urls").Skip(1).FirstOrDefault() ?? "http://localhost:7071";

// --sandbox: loopback fakes of Stripe, Twilio and Resend stand in for the vendors, secrets included.
await using FakeVendors? sandbox = args.Contains("--sandbox") ? await FakeVendors.StartAsync() : null;
Dictionary<string, string?>? overrides = sandbox?.ProxyConfiguration().ToDictionary(StringComparer.OrdinalIgnoreCase);

WebApplication app = DevHostApp.Build(args, settings, overrides);
app.Urls.Add(urls);

string? rootToken = app.Configuration[$"Secrets:{SecretNames.RootToken}"];
Console.WriteLine($"Keybrake development host on {urls} (settings: {(File.Exists(settings) ? settings : "none found")})");
Console.WriteLine(string.IsNullOrEmpty(rootToken)
    ? "No root operator token is configured: set Secrets__keybrake-root-token in local.settings.json."
    : $"Root operator token: {rootToken}");
if (sandbox is not null)
{
    Console.WriteLine($"Sandbox vendors: stripe {sandbox.Stripe.BaseUrl}, twilio {sandbox.Twilio.BaseUrl}, resend {sandbox.Resend.BaseUrl}");
}

foreach (HttpFunction function in DevHostApp.Functions)
{
    Console.WriteLine($"  {function.Name}: [{string.Join(",", function.Methods ?? ["ANY"])}] /{function.Route}");
}

await app.RunAsync();
