using Keybrake.Domain.Audit;
using Keybrake.Domain.Common;
using Keybrake.Domain.Export;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace Keybrake.Functions.Http;

/// <summary>The chargeback export's outbox, as operators see it.</summary>
public sealed class ExportsApiFunctions(OperatorEndpoint endpoint, ExportService exports)
{
    [Function("ListExports")]
    public Task<IActionResult> ListExportsAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v1/exports")] HttpRequest request,
        CancellationToken cancellationToken) =>
        endpoint.RunAsync(request, async caller =>
        {
            DateOnly day = RollupService.ParseDate(request.Query["date"]);
            IReadOnlyList<ExportRecord> rows = await exports.ListAsync(caller, day, cancellationToken);
            return ApiJson.Result(new
            {
                exports = rows.Select(r => new
                {
                    tenant = r.Tenant,
                    date = r.DayText,
                    target = r.Target,
                    id = r.EventId,
                    kind = r.Kind,
                    customer = r.Customer,
                    event_name = r.EventName,
                    value_cents = r.ValueCents,
                    net_usd = Usd.FromMicros(r.NetMicros),
                    timestamp = r.Timestamp,
                    status = r.Status,
                    duplicate = r.Duplicate,
                    attempts = r.Attempts,
                    next_attempt_at = r.Status == ExportStatus.Pending ? r.NextAttemptAt : (DateTimeOffset?)null,
                    last_error = r.LastError,
                    recorded_at = r.RecordedAt,
                    sent_at = r.SentAt,
                }),
            });
        }, cancellationToken);

    /// <summary>An export run's counts as the API shows them (in the POST /v1/rollups answer).</summary>
    public static object ReportView(ExportReport report, string target) => new
    {
        target,
        state = report.State,
        recorded = report.Recorded,
        skipped = report.Skipped,
        unmapped = report.Unmapped,
        sent = report.Sent,
        retrying = report.Retrying,
        rejected = report.Rejected,
        held = report.Held,
    };
}
