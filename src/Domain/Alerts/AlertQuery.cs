using Keybrake.Domain.Common;
using Keybrake.Domain.Keys;
using Keybrake.Domain.Operators;

namespace Keybrake.Domain.Alerts;

/// <summary><c>GET /v1/alerts</c>: a tenant token sees its tenant's alerts; root also sees every tenant's and the cross-tenant ("*") ones.</summary>
public sealed class AlertQueryService(IAlertStore alerts, IVaultKeyStore keys, TimeProvider time)
{
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromDays(7);

    public async Task<IReadOnlyList<Alert>> ListAsync(OperatorPrincipal caller, DateTimeOffset? since, CancellationToken cancellationToken)
    {
        DateTimeOffset from = since ?? time.GetUtcNow() - DefaultWindow;
        if (from > time.GetUtcNow())
        {
            throw KeybrakeException.Invalid("since", "must not be in the future.");
        }

        IReadOnlyList<string> tenants = caller.Tenant is string tenant ? [tenant] : [.. await keys.TenantsAsync(cancellationToken), "*"];
        IReadOnlyList<Alert>[] lists = await Task.WhenAll(tenants.Select(t => alerts.ListAsync(t, from, cancellationToken)));
        return [.. lists.SelectMany(l => l).OrderByDescending(a => a.FiredAt).ThenBy(a => a.Id, StringComparer.Ordinal)];
    }
}
