using System.Reflection;
using Keybrake.Domain.Keys;
using Keybrake.Functions.Http;
using Keybrake.Infrastructure.Storage;
using Microsoft.Extensions.Logging;

namespace Keybrake.Tests.Api;

/// <summary>Log queries and alerts select on event ids: two messages sharing one would be read as each other.</summary>
public sealed class LogEventIdTests
{
    [Fact]
    public void EveryLogMessage_HasItsOwnEventId()
    {
        Assembly[] assemblies = [typeof(KeyService).Assembly, typeof(TableReservationLedger).Assembly, typeof(KeysFunctions).Assembly];
        var messages = assemblies
            .SelectMany(a => a.GetTypes())
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m.DeclaringType!.Name + "." + m.Name, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(m => m.Attribute is not null)
            .ToList();

        Assert.True(messages.Count > 10, $"found only {messages.Count} log messages: the scan is not seeing them");
        var shared = messages.GroupBy(m => m.Attribute!.EventId).Where(g => g.Count() > 1)
            .Select(g => $"{g.Key}: {string.Join(", ", g.Select(m => m.Method))}").ToList();
        Assert.True(shared.Count == 0, "event ids used twice: " + string.Join("; ", shared));
    }
}
