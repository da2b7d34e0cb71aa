using System.Text.Json;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Reconciliation;
using Keybrake.Domain.Secrets;
using Keybrake.Domain.Vendors;
using Keybrake.Infrastructure.Http;
using Microsoft.Extensions.Options;

namespace Keybrake.Functions.Proxy;

/// <summary>Reads a vendor object's final price with the tenant's real credentials, for the reconciler.</summary>
public sealed class VendorLookup(
    VendorRegistry vendors, ISecretProvider secrets, IHttpClientFactory httpClients, IOptionsMonitor<VendorEndpointOptions> endpoints) : IVendorLookup
{
    public async Task<long?> SettledCostAsync(AuditEntry row, CancellationToken cancellationToken)
    {
        VendorDefinition? vendor = vendors.Find(row.Vendor);
        IReadOnlyList<string>? path = vendor?.SettlementPath(row.Operation, row.VendorObjectId);
        if (vendor is null || path is null)
        {
            return null;
        }

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string name in vendor.SecretNames)
        {
            values[name] = await secrets.GetAsync(name, row.Tenant, cancellationToken)
                ?? throw new Domain.Common.KeybrakeException(Domain.Common.ErrorKind.Unavailable, "vendor_credentials_unavailable", $"No {vendor.Name} credentials for tenant '{row.Tenant}'.");
        }

        UpstreamAuthorization auth = vendor.Authorize(values, path);
        VendorEndpointOptions endpoint = endpoints.Get(vendor.Name);
        using var request = new HttpRequestMessage(HttpMethod.Get, ProxyPipeline.UpstreamUri(endpoint.BaseUrl ?? vendor.DefaultBaseUrl, auth.Segments, null));
        request.Headers.TryAddWithoutValidation("Authorization", auth.AuthorizationHeader);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(endpoint.TimeoutSeconds));
        using HttpResponseMessage response = await httpClients.CreateClient(ProxyPipeline.HttpClientName(vendor.Name)).SendAsync(request, timeout.Token);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{vendor.Name} answered {(int)response.StatusCode} to a settlement lookup.");
        }

        using JsonDocument document = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(timeout.Token));
        return vendor.SettledCost(document.RootElement);
    }
}
