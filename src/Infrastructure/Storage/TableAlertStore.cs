using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using Keybrake.Domain.Activity;
using Keybrake.Domain.Alerts;

namespace Keybrake.Infrastructure.Storage;

/// <summary>
/// Alerts in table <c>{prefix}alerts</c>: PartitionKey = tenant ("*" for cross-tenant budgets), RowKey = the
/// alert's idempotent id. The delivery queue (outbox) is partition <see cref="Queue"/> of the same table, one row
/// per undelivered alert with all its fields (RowKey <c>{tenant}|{id}</c>), so the due ones are one partition read.
/// </summary>
public sealed class TableAlertStore(KeybrakeTables tables, IActivityIndex activity) : IAlertStore
{
    // Tenants are [a-z0-9-], so '~' can never name one.
    private const string Queue = "~queue";

    public async Task<bool> RecordAsync(Alert alert, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Alerts, cancellationToken);
        if (alert.Tenant != "*")
        {
            // Root's alert list reads only tenants active in its window: an alert counts as activity on the day it fired.
            // (Cross-tenant alerts, "*", are always read.)
            await activity.RecordAsync(alert.Tenant, DateOnly.FromDateTime(alert.FiredAt.UtcDateTime), cancellationToken);
        }

        await AddIfAbsentAsync(table, ToEntity(Queue, alert.Tenant + "|" + alert.Id, alert), cancellationToken);

        // Fired already (another call or instance) when the record exists: the first record stands.
        return await AddIfAbsentAsync(table, ToEntity(alert.Tenant, alert.Id, alert), cancellationToken);
    }

    public async Task<IReadOnlyList<Alert>> ListAsync(string tenant, DateTimeOffset since, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Alerts, cancellationToken);
        var alerts = new List<Alert>();
        await foreach (TableEntity e in table.QueryAsync<TableEntity>(
                           TableClient.CreateQueryFilter($"PartitionKey eq {tenant} and FiredAt ge {since}"), cancellationToken: cancellationToken))
        {
            alerts.Add(FromEntity(e));
        }

        return alerts;
    }

    public async Task<IReadOnlyList<Alert>> DueAsync(DateTimeOffset now, int max, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Alerts, cancellationToken);
        var due = new List<Alert>();
        await foreach (TableEntity e in table.QueryAsync<TableEntity>(
                           TableClient.CreateQueryFilter($"PartitionKey eq {Queue} and NextAttemptAt le {now}"), cancellationToken: cancellationToken))
        {
            due.Add(FromEntity(e));
            if (due.Count >= max)
            {
                break;
            }
        }

        return due;
    }

    public async Task<Alert?> ClaimAsync(Alert due, string body, DateTimeOffset leaseUntil, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Alerts, cancellationToken);
        string queued = due.Tenant + "|" + due.Id;
        NullableResponse<TableEntity> record = await table.GetEntityIfExistsAsync<TableEntity>(due.Tenant, due.Id, cancellationToken: cancellationToken);
        if (record.HasValue && record.Value!.GetString("DeliveryState") == Alert.Delivered)
        {
            await table.DeleteEntityAsync(Queue, queued, ETag.All, cancellationToken);
            return null;
        }

        if (!record.HasValue)
        {
            // The recorder stopped between queueing and recording: record it now, from the queued copy.
            await AddIfAbsentAsync(table, ToEntity(due.Tenant, due.Id, due), cancellationToken);
        }

        Alert claimed = due with { Body = body, NextAttemptAt = leaseUntil };
        try
        {
            Response response = await table.UpdateEntityAsync(ToEntity(Queue, queued, claimed), new ETag(due.Version!), TableUpdateMode.Replace, cancellationToken);
            return claimed with { Version = response.Headers.ETag?.ToString() };
        }
        catch (RequestFailedException e) when (e.Status is 404 or 412)
        {
            return null;
        }
    }

    /// <summary>
    /// A delivery is recorded whatever happened meanwhile (delivered is final and true). A failed attempt first
    /// moves its queue row, conditional on the claim: if the lease lapsed and another instance took the alert
    /// (or delivered it and removed the row), this attempt records nothing, so the record never goes back from
    /// delivered to retrying.
    /// </summary>
    public async Task SaveAttemptAsync(Alert attempt, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Alerts, cancellationToken);
        string queued = attempt.Tenant + "|" + attempt.Id;
        if (attempt.DeliveryState == Alert.Delivered)
        {
            await table.UpsertEntityAsync(ToEntity(attempt.Tenant, attempt.Id, attempt), TableUpdateMode.Replace, cancellationToken);
            try
            {
                await table.DeleteEntityAsync(Queue, queued, ETag.All, cancellationToken);
            }
            catch (RequestFailedException e) when (e.Status == 404)
            {
                // Another instance's delivery removed it first.
            }

            return;
        }

        try
        {
            await table.UpdateEntityAsync(ToEntity(Queue, queued, attempt), new ETag(attempt.Version!), TableUpdateMode.Replace, cancellationToken);
        }
        catch (RequestFailedException e) when (e.Status is 404 or 412)
        {
            return;
        }

        NullableResponse<TableEntity> record = await table.GetEntityIfExistsAsync<TableEntity>(attempt.Tenant, attempt.Id, cancellationToken: cancellationToken);
        if (record.HasValue && record.Value!.GetString("DeliveryState") == Alert.Delivered)
        {
            return;
        }

        try
        {
            TableEntity entity = ToEntity(attempt.Tenant, attempt.Id, attempt);
            await (record.HasValue
                ? table.UpdateEntityAsync(entity, record.Value!.ETag, TableUpdateMode.Replace, cancellationToken)
                : table.AddEntityAsync(entity, cancellationToken));
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412)
        {
            // Changed since the read: by a delivery (final) or a newer attempt's record; either way newer than this one.
        }
    }

    private static async Task<bool> AddIfAbsentAsync(TableClient table, TableEntity entity, CancellationToken cancellationToken)
    {
        try
        {
            await table.AddEntityAsync(entity, cancellationToken);
            return true;
        }
        catch (RequestFailedException e) when (e.Status == 409)
        {
            return false;
        }
    }

    private static TableEntity ToEntity(string partition, string row, Alert alert) => new(partition, row)
    {
        ["Id"] = alert.Id,
        ["Tenant"] = alert.Tenant,
        ["Kind"] = alert.Kind,
        ["Subject"] = alert.Subject,
        ["Message"] = alert.Message,
        ["FiredAt"] = alert.FiredAt,
        ["DeliveryState"] = alert.DeliveryState,
        ["Details"] = JsonSerializer.Serialize(alert.Details),
        ["Attempts"] = alert.Attempts,

        // Undelivered alerts are due at once: the queue's filter needs a value to compare.
        ["NextAttemptAt"] = alert.NextAttemptAt ?? alert.FiredAt,
        ["DeliveredAt"] = alert.DeliveredAt,
        ["LastError"] = alert.LastError,
        ["Body"] = alert.Body,
    };

    private static Alert FromEntity(TableEntity e) => new(
        e.GetString("Id") ?? e.RowKey,
        e.GetString("Tenant") ?? e.PartitionKey,
        e.GetString("Kind"),
        e.GetString("Subject"),
        e.GetString("Message"),
        e.GetDateTimeOffset("FiredAt") ?? DateTimeOffset.MinValue,
        e.GetString("DeliveryState") ?? Alert.Pending)
    {
        Details = e.GetString("Details") is string details
            ? JsonSerializer.Deserialize<Dictionary<string, object?>>(details) ?? []
            : new Dictionary<string, object?>(),
        Attempts = e.GetInt32("Attempts") ?? 0,
        NextAttemptAt = e.GetString("DeliveryState") == Alert.Delivered ? null : e.GetDateTimeOffset("NextAttemptAt"),
        DeliveredAt = e.GetDateTimeOffset("DeliveredAt"),
        LastError = e.GetString("LastError"),
        Body = e.GetString("Body"),
        Version = e.ETag.ToString(),
    };
}
