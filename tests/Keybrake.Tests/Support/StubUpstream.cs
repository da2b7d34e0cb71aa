using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Keybrake.Tests.Support;

/// <summary>
/// A loopback "vendor" that answers every request with a fixed status, headers and body, and records
/// what it received. For answers the fake vendors never give (a <c>Set-Cookie</c>, spoofed
/// <c>X-Keybrake-*</c> headers).
/// </summary>
public sealed class StubUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<(string Method, string Path, IReadOnlyDictionary<string, string> Headers)> _received = new();

    private StubUpstream(WebApplication app) => _app = app;

    public Uri BaseUrl { get; private set; } = null!;

    public IReadOnlyList<(string Method, string Path, IReadOnlyDictionary<string, string> Headers)> Received => _received.ToArray();

    /// <summary>Runs after a request is recorded and before it is answered (e.g. to cut storage mid-call).</summary>
    public Action? OnRequest { get; set; }

    public static async Task<StubUpstream> StartAsync(int status, string body, params (string Name, string Value)[] headers)
    {
        WebApplicationBuilder builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        WebApplication app = builder.Build();
        var stub = new StubUpstream(app);
        app.Run(async context =>
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
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        stub.BaseUrl = new Uri(address);
        return stub;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
