using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Keybrake.Tests.Support;

/// <summary>
/// An operator's webhook endpoint on loopback: records every delivery (headers and body as received) and
/// answers with the next status of <see cref="Statuses"/>, 200 once they run out.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private WebApplication _app = null!;
    private readonly ConcurrentQueue<(IReadOnlyDictionary<string, string> Headers, string Body, int Status)> _received = new();

    private WebhookReceiver()
    {
    }

    public Uri Url { get; private set; } = null!;

    public ConcurrentQueue<int> Statuses { get; } = new();

    public IReadOnlyList<(IReadOnlyDictionary<string, string> Headers, string Body, int Status)> Received => _received.ToArray();

    public static async Task<WebhookReceiver> StartAsync()
    {
        var receiver = new WebhookReceiver();
        (receiver._app, Uri address) = await LoopbackApp.StartAsync(async context =>
        {
            string body = await new StreamReader(context.Request.Body).ReadToEndAsync();
            int status = receiver.Statuses.TryDequeue(out int next) ? next : 200;
            receiver._received.Enqueue((context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase), body, status));
            context.Response.StatusCode = status;
        });
        receiver.Url = new Uri(address, "/hooks/keybrake");
        return receiver;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
