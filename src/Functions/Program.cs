using Keybrake.Functions.Composition;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Hosting;

FunctionsApplicationBuilder builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();
builder.Services.AddKeybrakeTelemetry(builder.Configuration);
builder.Services.AddKeybrake(builder.Configuration);
builder.Build().Run();
