using System.Reflection;
using System.Globalization;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Keybrake.DevHost;

/// <summary>A queue-triggered function as its attributes declare it; the queue name may name a setting (<c>%Queues:Nightly%</c>).</summary>
public sealed record QueueFunction(string Name, string QueueName, MethodInfo Method)
{
    public static IReadOnlyList<QueueFunction> Discover(Assembly assembly) =>
        assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Function: m.GetCustomAttribute<FunctionAttribute>(), Trigger: m.GetParameters()
                .Select(p => p.GetCustomAttribute<QueueTriggerAttribute>())
                .FirstOrDefault(a => a is not null)))
            .Where(x => x.Function is not null && x.Trigger is not null)
            .Select(x => new QueueFunction(x.Function!.Name, x.Trigger!.QueueName, x.Method))
            .OrderBy(f => f.Name, StringComparer.Ordinal)
            .ToList();

    /// <summary>The queue's name, with a <c>%setting%</c> resolved the way the Functions host resolves it.</summary>
    public string ResolveQueue(IConfiguration configuration) =>
        QueueName.Length > 2 && QueueName[0] == '%' && QueueName[^1] == '%'
            ? configuration[QueueName[1..^1]] is { Length: > 0 } value ? value
                : throw new InvalidOperationException($"Queue function {Name}: its queue '{QueueName}' names a setting that is not set.")
            : QueueName;
}

/// <summary>
/// Runs the queue-triggered functions in the development host as the Functions host's queue listener does: polls each
/// queue, runs a message's function, deletes the message when it succeeds; a failure makes it visible again after the
/// host.json <c>visibilityTimeout</c>, and the <c>maxDequeueCount</c>-th failure moves it to <c>{queue}-poison</c>.
/// Off with the timers (<see cref="TimerScheduler.RunTimersSetting"/>); tests then call <see cref="DrainAsync"/>.
/// </summary>
public sealed partial class QueuePoller(
    IServiceProvider services, IConfiguration configuration, ILogger<QueuePoller> logger) : BackgroundService
{
    // Resolved on first poll: a host with its timers off (and maybe no AzureWebJobsStorage) never needs it.
    private QueueServiceClient Queues => services.GetRequiredService<QueueServiceClient>();

    private readonly QueueListenerSettings _settings = QueueListenerSettings.Read(Path.Combine(AppContext.BaseDirectory, "host.json"), configuration);

    public static IReadOnlyList<QueueFunction> Functions { get; } = QueueFunction.Discover(typeof(Functions.Http.KeysFunctions).Assembly);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!configuration.GetValue(TimerScheduler.RunTimersSetting, true))
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await PollOnceAsync(stoppingToken) == 0)
                {
                    // Queues hold no wake-up signal, so an idle queue is polled, as the Functions host's listener does
                    // (it backs off to a minute); a second keeps a local run's fan-out prompt.
                    await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // Storage unreachable: as the Functions host's listener, keep polling.
                LogPollFailed(logger, e);
                await Task.Delay(TimeSpan.FromSeconds(5), stoppingToken);
            }
        }
    }

    /// <summary>Runs every message until all the queues are empty (or hold only messages waiting out a failure); returns how many ran.</summary>
    public async Task<int> DrainAsync(CancellationToken cancellationToken)
    {
        int total = 0;
        for (int ran; (ran = await PollOnceAsync(cancellationToken)) > 0;)
        {
            total += ran;
        }

        return total;
    }

    /// <summary>One receive per queue, and its messages run; returns how many messages it received.</summary>
    public async Task<int> PollOnceAsync(CancellationToken cancellationToken)
    {
        int received = 0;
        foreach (QueueFunction function in Functions)
        {
            QueueClient queue = Queues.GetQueueClient(function.ResolveQueue(configuration));
            await queue.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
            QueueMessage[] messages = (await queue.ReceiveMessagesAsync(_settings.BatchSize, _settings.VisibilityTimeout + TimeSpan.FromMinutes(5), cancellationToken)).Value;
            received += messages.Length;
            await Task.WhenAll(messages.Select(m => RunAsync(function, queue, m, cancellationToken)));
        }

        return received;
    }

    private async Task RunAsync(QueueFunction function, QueueClient queue, QueueMessage message, CancellationToken cancellationToken)
    {
        try
        {
            await using AsyncServiceScope scope = services.CreateAsyncScope();
            object instance = ActivatorUtilities.GetServiceOrCreateInstance(scope.ServiceProvider, function.Method.DeclaringType!);
            object?[] arguments = function.Method.GetParameters()
                .Select(p => p.ParameterType == typeof(string) ? message.MessageText : p.ParameterType == typeof(CancellationToken) ? (object)cancellationToken
                    : throw new InvalidOperationException($"The development host cannot bind parameter '{p.Name}' of queue function {function.Name}."))
                .ToArray();
            if (function.Method.Invoke(instance, arguments) is Task task)
            {
                await task;
            }

            await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt, cancellationToken);
            LogRan(logger, function.Name, message.MessageId);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            Exception failure = e is TargetInvocationException { InnerException: not null } ? e.InnerException! : e;
            if (message.DequeueCount >= _settings.MaxDequeueCount)
            {
                QueueClient poison = Queues.GetQueueClient(queue.Name + "-poison");
                await poison.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
                await poison.SendMessageAsync(message.MessageText, cancellationToken);
                await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt, cancellationToken);
                LogPoisoned(logger, function.Name, message.MessageId, message.DequeueCount, failure);
            }
            else
            {
                await queue.UpdateMessageAsync(message.MessageId, message.PopReceipt, visibilityTimeout: _settings.VisibilityTimeout, cancellationToken: cancellationToken);
                LogFailed(logger, function.Name, message.MessageId, message.DequeueCount, failure);
            }
        }
    }

    [LoggerMessage(EventId = 9004, Level = LogLevel.Information, Message = "Queue function {Function} ran (Succeeded, message {MessageId})")]
    private static partial void LogRan(ILogger logger, string function, string messageId);

    [LoggerMessage(EventId = 9005, Level = LogLevel.Warning, Message = "Queue function {Function} failed on message {MessageId} (attempt {DequeueCount}); it will be retried")]
    private static partial void LogFailed(ILogger logger, string function, string messageId, long dequeueCount, Exception exception);

    [LoggerMessage(EventId = 9006, Level = LogLevel.Error, Message = "Queue function {Function} failed on message {MessageId} {DequeueCount} times: moved to the poison queue")]
    private static partial void LogPoisoned(ILogger logger, string function, string messageId, long dequeueCount, Exception exception);

    [LoggerMessage(EventId = 9007, Level = LogLevel.Warning, Message = "Queue poll failed; polling again shortly")]
    private static partial void LogPollFailed(ILogger logger, Exception exception);
}

/// <summary>
/// The host.json <c>extensions.queues</c> settings the poller honours, with the Functions host's defaults, overridden as
/// the Functions host overrides them: by settings <c>AzureFunctionsJobHost__extensions__queues__…</c>.
/// </summary>
public sealed record QueueListenerSettings(int BatchSize, TimeSpan VisibilityTimeout, int MaxDequeueCount)
{
    public static QueueListenerSettings Read(string hostJson, IConfiguration overrides)
    {
        var host = new ConfigurationBuilder();
        if (File.Exists(hostJson))
        {
            host.AddJsonFile(hostJson, optional: true);
        }

        IConfigurationSection file = host.Build().GetSection("extensions:queues");
        IConfigurationSection setting = overrides.GetSection("AzureFunctionsJobHost:extensions:queues");
        string? Value(string name) => setting[name] ?? file[name];
        return new QueueListenerSettings(
            Value("batchSize") is { } batch ? int.Parse(batch, CultureInfo.InvariantCulture) : 16,
            Value("visibilityTimeout") is { } visibility ? TimeSpan.Parse(visibility, CultureInfo.InvariantCulture) : TimeSpan.Zero,
            Value("maxDequeueCount") is { } dequeue ? int.Parse(dequeue, CultureInfo.InvariantCulture) : 5);
    }
}
