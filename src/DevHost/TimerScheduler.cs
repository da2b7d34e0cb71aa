using System.Reflection;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NCrontab;

namespace Keybrake.DevHost;

/// <summary>A timer-triggered function as its attributes declare it; the schedule may name a setting (<c>%Timers:Reconciler%</c>).</summary>
public sealed record TimerFunction(string Name, string Schedule, MethodInfo Method)
{
    public static IReadOnlyList<TimerFunction> Discover(Assembly assembly) =>
        assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Function: m.GetCustomAttribute<FunctionAttribute>(), Trigger: m.GetParameters()
                .Select(p => p.GetCustomAttribute<TimerTriggerAttribute>())
                .FirstOrDefault(a => a is not null)))
            .Where(x => x.Function is not null && x.Trigger is not null)
            .Select(x => new TimerFunction(x.Function!.Name, x.Trigger!.Schedule, x.Method))
            .OrderBy(f => f.Name, StringComparer.Ordinal)
            .ToList();

    /// <summary>The NCRONTAB expression, with a <c>%setting%</c> resolved the way the Functions host resolves it.</summary>
    public CrontabSchedule ResolveSchedule(IConfiguration configuration)
    {
        string expression = Schedule;
        if (expression.Length > 2 && expression[0] == '%' && expression[^1] == '%')
        {
            string setting = expression[1..^1];
            expression = configuration[setting] is { Length: > 0 } value
                ? value
                : throw new InvalidOperationException(
                    $"Timer {Name}: its schedule '{Schedule}' names the setting {setting.Replace(":", "__", StringComparison.Ordinal)}, which is not set " +
                    "(the Functions host refuses to start such a function too; local.settings.sample.json has the defaults).");
        }

        // Six fields (with seconds) as the Functions host accepts; five-field expressions are valid there too.
        return CrontabSchedule.TryParse(expression, new CrontabSchedule.ParseOptions { IncludingSeconds = expression.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length == 6 })
            ?? throw new InvalidOperationException($"Timer {Name}: '{expression}' is not an NCRONTAB expression.");
    }
}

/// <summary>
/// Runs the timer functions on their schedules in the development host, so rollups, alert delivery, the
/// reconciler and exports happen locally as they do under the Functions host (which has no catch-up either
/// here: a run missed while the process was down is not made up). One run of a function at a time.
/// </summary>
public sealed partial class TimerScheduler(
    IServiceProvider services, IConfiguration configuration, TimeProvider time, ILogger<TimerScheduler> logger) : BackgroundService
{
    /// <summary>Set <c>DevHost:RunTimers</c> to false to keep timers off (tests that drive the jobs themselves).</summary>
    public const string RunTimersSetting = "DevHost:RunTimers";

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!configuration.GetValue(RunTimersSetting, true))
        {
            return Task.CompletedTask;
        }

        IEnumerable<Task> loops = DevHostApp.Timers.Select(function => RunOnScheduleAsync(function, function.ResolveSchedule(configuration), stoppingToken));
        return Task.WhenAll(loops);
    }

    private async Task RunOnScheduleAsync(TimerFunction function, CrontabSchedule schedule, CancellationToken stoppingToken)
    {
        LogScheduled(logger, function.Name, schedule);
        while (!stoppingToken.IsCancellationRequested)
        {
            DateTime now = time.GetUtcNow().UtcDateTime;
            DateTime next = schedule.GetNextOccurrence(now);
            try
            {
                await Task.Delay(next - now, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            await RunOnceAsync(function, next, schedule.GetNextOccurrence(next), stoppingToken);
        }
    }

    private async Task RunOnceAsync(TimerFunction function, DateTime last, DateTime next, CancellationToken stoppingToken)
    {
        long started = time.GetTimestamp();
        try
        {
            await using AsyncServiceScope scope = services.CreateAsyncScope();
            object instance = ActivatorUtilities.GetServiceOrCreateInstance(scope.ServiceProvider, function.Method.DeclaringType!);
            var timer = new TimerInfo { ScheduleStatus = new ScheduleStatus { Last = last, Next = next, LastUpdated = last } };
            object?[] arguments = function.Method.GetParameters()
                .Select(p => p.ParameterType == typeof(TimerInfo) ? timer : p.ParameterType == typeof(CancellationToken) ? (object)stoppingToken
                    : throw new InvalidOperationException($"The development host cannot bind parameter '{p.Name}' of timer {function.Name}."))
                .ToArray();
            if (function.Method.Invoke(instance, arguments) is Task task)
            {
                await task;
            }

            TimeSpan elapsed = time.GetElapsedTime(started);
            LogRan(logger, function.Name, elapsed.TotalMilliseconds);
        }
        catch (TargetInvocationException e) when (!stoppingToken.IsCancellationRequested && e.InnerException is not null)
        {
            LogFailed(logger, function.Name, e.InnerException);
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            // As under the Functions host: a failed run is logged and the next one comes on schedule.
            LogFailed(logger, function.Name, e);
        }
    }

    [LoggerMessage(EventId = 9001, Level = LogLevel.Information, Message = "Timer {Function} scheduled: {Schedule}")]
    private static partial void LogScheduled(ILogger logger, string function, CrontabSchedule schedule);

    [LoggerMessage(EventId = 9002, Level = LogLevel.Information, Message = "Timer {Function} ran (Succeeded, {Milliseconds:F0} ms)")]
    private static partial void LogRan(ILogger logger, string function, double milliseconds);

    [LoggerMessage(EventId = 9003, Level = LogLevel.Error, Message = "Timer {Function} failed")]
    private static partial void LogFailed(ILogger logger, string function, Exception exception);
}
