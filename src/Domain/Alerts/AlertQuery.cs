using Keybrake.Domain.Activity;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Common;
using Keybrake.Domain.Operators;

namespace Keybrake.Domain.Alerts;

/// <summary><c>GET /v1/alerts</c>: a tenant token sees its tenant's alerts; root also sees every tenant's and the cross-tenant ("*") ones.</summary>
public sealed class AlertQueryService(IAlertStore alerts, IActivityIndex activity, ReportOptions options, TimeProvider time)
{
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromDays(7);

    public async Task<IReadOnlyList<Alert>> ListAsync(OperatorPrincipal caller, DateTimeOffset? since, CancellationToken cancellationToken)
    {
        DateTimeOffset from = since ?? time.GetUtcNow() - DefaultWindow;
        if (from > time.GetUtcNow())
        {
            throw KeybrakeException.Invalid("since", "must not be in the future.");
        }

        // Root: an alert is activity on the day it fired, so the tenants active since `from` are the ones with alerts to list.
        IReadOnlyList<string> tenants = caller.Tenant is string tenant
            ? [tenant]
            : [.. (await activity.ActiveAsync(DateOnly.FromDateTime(from.UtcDateTime), DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime), cancellationToken))
                .Select(a => a.Tenant).Distinct().Order(StringComparer.Ordinal), "*"];
        IReadOnlyList<Alert>[] lists = await Bounded.SelectAsync(tenants, options.MaxStorageRequestsInFlight, (t, ct) => alerts.ListAsync(t, from, ct), cancellationToken);
        return [.. lists.SelectMany(l => l).OrderByDescending(a => a.FiredAt).ThenBy(a => a.Id, StringComparer.Ordinal)];
    }
}
