using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Keybrake.Tests.Support;

/// <summary>
/// A loopback "vendor" that answers every request with a fixed status, headers and body, and records
/// what it received. For answers the fake vendors never give (a <c>Set-Cookie</c>, spoofed
/// <c>X-Keybrake-*</c> headers).
/// </summary>
public sealed class StubUpstream : IAsyncDisposable
{
    private WebApplication _app = null!;
    private readonly ConcurrentQueue<(string Method, string Path, IReadOnlyDictionary<string, string> Headers)> _received = new();

    private StubUpstream()
    {
    }

    public Uri BaseUrl { get; private set; } = null!;

    public IReadOnlyList<(string Method, string Path, IReadOnlyDictionary<string, string> Headers)> Received => _received.ToArray();

    /// <summary>Runs after a request is recorded and before it is answered (e.g. to cut storage mid-call).</summary>
    public Action? OnRequest { get; set; }

    public static async Task<StubUpstream> StartAsync(int status, string body, params (string Name, string Value)[] headers)
    {
        var stub = new StubUpstream();
        (stub._app, stub.BaseUrl) = await LoopbackApp.StartAsync(async context =>
        {
            stub._received.Enqueue((
                context.Request.Method,
                context.Request.Path.ToUriComponent(),
                context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase)));
            stub.OnRequest?.Invoke();
            context.Response.StatusCode = status;
            foreach ((string name, string value) in headers)
            {
                context.Response.Headers.Append(name, value);
            }

            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(body);
        });
        return stub;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
