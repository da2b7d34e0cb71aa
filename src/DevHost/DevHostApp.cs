using Keybrake.Functions.Composition;
using Keybrake.Functions.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Keybrake.DevHost;

/// <summary>Builds the development host: the same composition as the Functions app, served on Kestrel.</summary>
public static class DevHostApp
{
    public static IReadOnlyList<HttpFunction> Functions { get; } = FunctionRoutes.Discover(typeof(KeysFunctions).Assembly);

    public static IReadOnlyList<TimerFunction> Timers { get; } = TimerFunction.Discover(typeof(KeysFunctions).Assembly);

    public static WebApplication Build(
        string[] args,
        string? localSettingsPath,
        IReadOnlyDictionary<string, string?>? overrides = null,
        Action<IServiceCollection>? configureServices = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddLocalSettings(localSettingsPath);
        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }

        // Command-line and environment win over the settings file, as they do under the Functions host.
        builder.Configuration.AddEnvironmentVariables();
        builder.Configuration.AddCommandLine(args);

        // What the worker's ASP.NET Core integration registers (it calls AddMvc), so the functions' stock
        // IActionResult results execute here exactly as under the Functions host.
        builder.Services.AddMvc();
        builder.Services.AddKeybrake(builder.Configuration);
        builder.Services.AddHostedService<TimerScheduler>();
        builder.Services.AddSingleton<QueuePoller>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<QueuePoller>());
        configureServices?.Invoke(builder.Services);
        if (builder.Configuration.GetValue(TimerScheduler.RunTimersSetting, true))
        {
            // A schedule setting that is missing or wrong stops the start, as it stops the Functions host's indexing.
            foreach (TimerFunction timer in Timers)
            {
                timer.ResolveSchedule(builder.Configuration);
            }

            foreach (QueueFunction queue in QueuePoller.Functions)
            {
                queue.ResolveQueue(builder.Configuration);
            }
        }

        WebApplication app = builder.Build();
        FunctionRoutes.Map(app, Functions);
        return app;
    }
}
