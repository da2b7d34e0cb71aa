using Azure;
using Azure.Data.Tables;
using Keybrake.Domain.Alerts;

namespace Keybrake.Infrastructure.Storage;

/// <summary>Alerts in table <c>{prefix}alerts</c>: PartitionKey = tenant, RowKey = the alert's idempotent id.</summary>
public sealed class TableAlertStore(KeybrakeTables tables) : IAlertStore
{
    public async Task<bool> RecordAsync(Alert alert, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Alerts, cancellationToken);
        try
        {
            await table.AddEntityAsync(
                new TableEntity(alert.Tenant, alert.Id)
                {
                    ["Kind"] = alert.Kind,
                    ["Subject"] = alert.Subject,
                    ["Message"] = alert.Message,
                    ["FiredAt"] = alert.FiredAt,
                    ["DeliveryState"] = alert.DeliveryState,
                },
                cancellationToken);
            return true;
        }
        catch (RequestFailedException e) when (e.Status == 409)
        {
            // Fired already (another call or instance): the first record stands.
            return false;
        }
    }

    public async Task<IReadOnlyList<Alert>> ListAsync(string tenant, DateTimeOffset since, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Alerts, cancellationToken);
        var alerts = new List<Alert>();
        await foreach (TableEntity e in table.QueryAsync<TableEntity>(
                           TableClient.CreateQueryFilter($"PartitionKey eq {tenant} and FiredAt ge {since}"), cancellationToken: cancellationToken))
        {
            alerts.Add(new Alert(e.RowKey, e.PartitionKey, e.GetString("Kind"), e.GetString("Subject"), e.GetString("Message"),
                e.GetDateTimeOffset("FiredAt") ?? DateTimeOffset.MinValue, e.GetString("DeliveryState") ?? Alert.Pending));
        }

        return alerts;
    }
}
