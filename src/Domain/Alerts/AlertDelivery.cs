using System.Globalization;
using System.Text.Json;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Common;
using Keybrake.Domain.Operators;

namespace Keybrake.Domain.Alerts;

public sealed record DeliveryReport(int Delivered, int Failed, int Skipped);

/// <summary>
/// Works the alert queue: each due alert is claimed (so two instances never send it at once), its body fixed at
/// the first attempt (budget alerts get the top spenders under their prefix then), sent, and either marked
/// delivered or queued again with exponential backoff (1, 2, 4 … minutes, at most an hour) until acknowledged.
/// Delivery is at least once: receivers dedupe on the alert id.
/// </summary>
public sealed class AlertDelivery(IAlertStore alerts, IAlertSender sender, SpendQueryService spend, TimeProvider time)
{
    public static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);
    public const int TopSpenders = 5;

    public static TimeSpan Backoff(int attempts) => TimeSpan.FromMinutes(Math.Min(60, Math.Pow(2, Math.Min(attempts, 7) - 1)));

    public async Task<DeliveryReport> DeliverDueAsync(CancellationToken cancellationToken)
    {
        if (!sender.IsConfigured)
        {
            return new DeliveryReport(0, 0, 0);
        }

        int delivered = 0, failed = 0, skipped = 0;
        DateTimeOffset now = time.GetUtcNow();
        foreach (Alert due in await alerts.DueAsync(now, 100, cancellationToken))
        {
            string body = due.Body ?? await BodyAsync(due, now, cancellationToken);
            // The lease runs from this claim, not from the run's start: after slow sends earlier in the run, a lease
            // counted from the start could lapse mid-send and let a second instance send the same alert.
            Alert? claimed = await alerts.ClaimAsync(due, body, time.GetUtcNow() + Lease, cancellationToken);
            if (claimed is null)
            {
                skipped++;
                continue;
            }

            string? error = await sender.SendAsync(claimed, body, cancellationToken);
            int attempts = claimed.Attempts + 1;
            DateTimeOffset done = time.GetUtcNow();
            await alerts.SaveAttemptAsync(error is null
                ? claimed with { Attempts = attempts, DeliveryState = Alert.Delivered, DeliveredAt = done, LastError = null, NextAttemptAt = null }
                : claimed with { Attempts = attempts, DeliveryState = Alert.Retrying, LastError = error, NextAttemptAt = done + Backoff(attempts) },
                cancellationToken);
            if (error is null)
            {
                delivered++;
            }
            else
            {
                failed++;
            }
        }

        return new DeliveryReport(delivered, failed, skipped);
    }

    /// <summary>The webhook's JSON: the alert, its details and, for a budget, who spent the most under its prefix in the period.</summary>
    private async Task<string> BodyAsync(Alert alert, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var body = new Dictionary<string, object?>
        {
            ["id"] = alert.Id,
            ["kind"] = alert.Kind,
            ["tenant"] = alert.Tenant,
            ["subject"] = alert.Subject,
            ["message"] = alert.Message,
            ["fired_at"] = alert.FiredAt.UtcDateTime,
        };
        foreach ((string name, object? value) in alert.Details)
        {
            body[name] = value;
        }

        if (alert.Kind == Alert.BudgetThreshold && alert.Details.TryGetValue("period", out object? period) && period?.ToString() is string p)
        {
            DateTimeOffset since = DateTimeOffset.ParseExact(p.Length == 7 ? p + "-01" : p, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
            DateTimeOffset until = since.AddMonths(p.Length == 7 ? 1 : 0).AddDays(p.Length == 7 ? 0 : 1).AddTicks(-1);
            string prefix = alert.Subject == "*" ? string.Empty : alert.Subject;
            SpendReport report = await spend.QueryAsync(OperatorPrincipal.Root, since, until < now ? until : now, "label", prefix, null, cancellationToken);
            body["top_spenders"] = report.Groups.Take(TopSpenders)
                .Select(g => new Dictionary<string, object?> { ["label"] = g.Keys[0], ["cost_usd"] = Usd.FromMicros(g.NetMicros), ["calls"] = g.Calls })
                .ToList();
        }

        return JsonSerializer.Serialize(body);
    }
}
