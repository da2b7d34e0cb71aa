using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;

namespace Keybrake.Infrastructure.Storage;

/// <summary>
/// A pipeline policy that heals a table that vanished under a running app (storage wiped, Azurite restarted
/// empty): on <c>TableNotFound</c> it re-creates the app's tables and sends the request once more. Without
/// it every call fails until the process restarts, because <see cref="KeybrakeTables"/> creates tables once.
/// Re-sending is safe: a request refused with TableNotFound wrote nothing (a batch is all or nothing).
/// </summary>
public sealed class MissingTableHealer : HttpPipelinePolicy
{
    private TableServiceClient? _service;
    private string _prefix = string.Empty;

    /// <summary>Connects the policy to the client it sits in (which must exist before it can create tables).</summary>
    public void Attach(TableServiceClient service, string prefix)
    {
        _service = service;
        _prefix = prefix;
    }

    public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline) =>
        ProcessAsync(message, pipeline).AsTask().GetAwaiter().GetResult();

    public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        await ProcessNextAsync(message, pipeline);
        if (_service is null || !IsTableNotFound(message))
        {
            return;
        }

        foreach (string name in KeybrakeTables.All)
        {
            await _service.GetTableClient(_prefix + name).CreateIfNotExistsAsync(message.CancellationToken);
        }

        await ProcessNextAsync(message, pipeline);
    }

    private static bool IsTableNotFound(HttpMessage message)
    {
        if (!message.HasResponse)
        {
            return false;
        }

        Response response = message.Response;
        if (response.Status == 404 && response.Headers.TryGetValue("x-ms-error-code", out string? code))
        {
            return code == "TableNotFound";
        }

        // A batch answers 202 with the failed operation's status inside its multipart body.
        return response.Status == 202 && message.Request.Uri.Path.EndsWith("$batch", StringComparison.Ordinal) &&
               response.Content?.ToString().Contains("TableNotFound", StringComparison.Ordinal) == true;
    }
}
