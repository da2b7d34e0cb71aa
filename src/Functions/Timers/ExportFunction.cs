using Keybrake.Domain.Export;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;

namespace Keybrake.Functions.Timers;

/// <summary>Every ten minutes: send the export outbox's due rows (first sends cut short, and retries after backoff).</summary>
public sealed partial class ExportFunction(ExportService exports, ILogger<ExportFunction> logger)
{
    [Function("ExportOutbox")]
    public async Task RunAsync([TimerTrigger("%Timers:ExportOutbox%")] TimerInfo timer, CancellationToken cancellationToken)
    {
        ExportReport report = await exports.SendDueAsync(cancellationToken);
        if (report.Sent + report.Retrying + report.Rejected + report.Held > 0)
        {
            LogSent(logger, exports.Target, report.Sent, report.Retrying, report.Rejected, report.Held);
        }
    }

    [LoggerMessage(EventId = 4012, Level = LogLevel.Information, Message = "Export outbox to {Target}: {Sent} sent, {Retrying} to retry, {Rejected} rejected, {Held} held for an operator (past the meter's duplicate window)")]
    private static partial void LogSent(ILogger logger, string target, int sent, int retrying, int rejected, int held);
}
