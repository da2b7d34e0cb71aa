using Azure.Data.Tables;
using Keybrake.Domain.Audit;

namespace Keybrake.Infrastructure.Storage;

/// <summary>Audit rows of table <c>{prefix}audit</c> as reports and queries read them; the ledger writes them.</summary>
public sealed class TableAuditReader(KeybrakeTables tables) : IAuditReader
{
    private static readonly string[] SpendColumns = ["Ts", "Tenant", "Label", "Vendor", "Outcome", "CostMicros", "FeeMicros"];

    public async Task<IReadOnlyList<AuditEntry>> ReadAsync(AuditPartitionQuery query, CancellationToken cancellationToken)
    {
        TableClient table = await tables.GetAsync(KeybrakeTables.Audit, cancellationToken);
        var clauses = new List<string>
        {
            TableClient.CreateQueryFilter($"PartitionKey eq {AuditEntry.PartitionFor(query.Tenant, query.Day)} and RowKey gt {query.FromRowKey} and RowKey lt {query.ToRowKey}"),
        };
        if (query.LabelPrefix.Length > 0)
        {
            clauses.Add(TableClient.CreateQueryFilter($"Label ge {query.LabelPrefix} and Label lt {TableFilters.UpperBound(query.LabelPrefix)}"));
        }

        if (query.Vendor is not null)
        {
            clauses.Add(TableClient.CreateQueryFilter($"Vendor eq {query.Vendor}"));
        }

        if (query.Outcome is not null)
        {
            clauses.Add(TableClient.CreateQueryFilter($"Outcome eq {query.Outcome}"));
        }

        var rows = new List<AuditEntry>();
        await foreach (TableEntity entity in table.QueryAsync<TableEntity>(
                           string.Join(" and ", clauses.Select(c => "(" + c + ")")), maxPerPage: Math.Min(query.Limit, 1000),
                           select: query.SpendColumnsOnly ? SpendColumns : null, cancellationToken: cancellationToken))
        {
            rows.Add(AuditEntities.FromEntity(entity));
            if (rows.Count >= query.Limit)
            {
                break;
            }
        }

        return rows;
    }
}
