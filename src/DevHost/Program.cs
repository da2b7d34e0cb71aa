using Keybrake.DevHost;
using Keybrake.Domain.Secrets;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;

// The development host: serves the Functions app's HTTP functions on Kestrel, for machines without
// Azure Functions Core Tools. Settings come from src/Functions/local.settings.json, like `func start`.
string settings = args.SkipWhile(a => a != "--settings").Skip(1).FirstOrDefault()
    ?? Path.Combine(Directory.GetCurrentDirectory(), "src", "Functions", "local.settings.json");
string urls = args.SkipWhile(a => a != "--urls").Skip(1).FirstOrDefault() ?? "http://localhost:7071";

WebApplication app = DevHostApp.Build(args, settings);
app.Urls.Add(urls);

string? rootToken = app.Configuration[$"Secrets:{SecretNames.RootToken}"];
Console.WriteLine($"Keybrake development host on {urls} (settings: {(File.Exists(settings) ? settings : "none found")})");
Console.WriteLine(string.IsNullOrEmpty(rootToken)
    ? "No root operator token is configured: set Secrets__keybrake-root-token in local.settings.json."
    : $"Root operator token: {rootToken}");
foreach (HttpFunction function in DevHostApp.Functions)
{
    Console.WriteLine($"  {function.Name}: [{string.Join(",", function.Methods ?? ["ANY"])}] /{function.Route}");
}

await app.RunAsync();
