using Keybrake.Domain.Audit;

namespace Keybrake.Tests.Support;

/// <summary>The real audit reader (Azurite) with a gate after each read, so a test can hold a rollup run on its snapshot.</summary>
public sealed class GatedAuditReader(IAuditReader inner) : IAuditReader
{
    public StepGate AfterRead { get; } = new();

    public async Task<IReadOnlyList<AuditEntry>> ReadAsync(AuditPartitionQuery query, CancellationToken cancellationToken)
    {
        IReadOnlyList<AuditEntry> rows = await inner.ReadAsync(query, cancellationToken);
        await AfterRead.PassAsync();
        return rows;
    }
}
