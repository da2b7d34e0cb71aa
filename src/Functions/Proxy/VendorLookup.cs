using System.Text.Json;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Proxy;
using Keybrake.Domain.Reconciliation;
using Keybrake.Domain.Common;
using Keybrake.Domain.Vendors;

namespace Keybrake.Functions.Proxy;

/// <summary>
/// Reads vendor objects with the tenant's real credentials: a final price for the reconciler, and the bound
/// of a call that names an object (an invoice to pay) before the proxy forwards it.
/// </summary>
public sealed class VendorLookup(VendorRegistry vendors, VendorHttp http) : IVendorLookup
{
    public async Task<long?> SettledCostAsync(AuditEntry row, CancellationToken cancellationToken)
    {
        VendorDefinition? vendor = vendors.Find(row.Vendor);
        IReadOnlyList<string>? path = vendor?.SettlementPath(row.Operation, row.VendorObjectId);
        if (vendor is null || path is null)
        {
            return null;
        }

        using JsonDocument found = await GetAsync(vendor, row.Tenant, path, null, cancellationToken);
        return vendor.SettledCost(found.RootElement);
    }

    public async Task<long?> InDoubtCostAsync(AuditEntry row, CancellationToken cancellationToken)
    {
        VendorDefinition? vendor = vendors.Find(row.Vendor);
        if (vendor?.InDoubtSearch(row.Operation, CallReference.For(row)) is not (IReadOnlyList<string> path, string query))
        {
            return null;
        }

        using JsonDocument found = await GetAsync(vendor, row.Tenant, path, query, cancellationToken);
        return vendor.InDoubtCost(found.RootElement);
    }

    /// <summary>One object read with the tenant's real credentials, for its owner tag; null when the vendor has no such object.</summary>
    public async Task<JsonDocument?> FindAsync(VendorDefinition vendor, string tenant, IReadOnlyList<string> path, CancellationToken cancellationToken)
    {
        try
        {
            return await GetAsync(vendor, tenant, path, null, cancellationToken);
        }
        catch (HttpRequestException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<CostEstimate> BoundAsync(string tenant, ProxyCall call, CostEstimate estimate, CancellationToken cancellationToken)
    {
        VendorDefinition? vendor = vendors.Find(call.Vendor);
        if (vendor is null || estimate.LookupPath is not IReadOnlyList<string> path)
        {
            return estimate;
        }

        using JsonDocument found = await GetAsync(vendor, tenant, path, null, cancellationToken);
        return vendor.BoundFromLookup(call, found.RootElement);
    }

    /// <summary>A GET to the vendor with the tenant's real credentials; anything but 2xx is an error.</summary>
    private async Task<JsonDocument> GetAsync(VendorDefinition vendor, string tenant, IReadOnlyList<string> path, string? query, CancellationToken cancellationToken)
    {
        (Dictionary<string, string>? values, _) = await http.ReadSecretsAsync(vendor, tenant, cancellationToken);
        if (values is null)
        {
            throw new KeybrakeException(ErrorKind.Unavailable, "vendor_credentials_unavailable", $"No {vendor.Name} credentials for tenant '{tenant}'.");
        }

        using HttpRequestMessage request = http.Request(vendor, HttpMethod.Get, vendor.Authorize(values, path), query);
        using UpstreamDeadline deadline = http.Deadline(vendor, cancellationToken);
        using HttpResponseMessage response = await http.SendAsync(vendor, tenant, request, HttpCompletionOption.ResponseContentRead, deadline.Token);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{vendor.Name} answered {(int)response.StatusCode} to a lookup.", null, response.StatusCode);
        }

        return JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(deadline.Token));
    }
}
