using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Keybrake.Tests.Support;

/// <summary>One logger's entries (level, event id, formatted message with exception text) for assertions.</summary>
public sealed class CapturedLogger<T> : ILogger<T>
{
    private readonly ConcurrentQueue<(LogLevel Level, int EventId, string Text)> _entries = new();

    public IReadOnlyList<(LogLevel Level, int EventId, string Text)> Entries => _entries.ToArray();

    /// <summary>Everything written, as one string, to search for leaked values.</summary>
    public string All => string.Join('\n', _entries.Select(e => e.Text));

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _entries.Enqueue((logLevel, eventId.Id, $"{formatter(state, exception)} {exception}"));
}
