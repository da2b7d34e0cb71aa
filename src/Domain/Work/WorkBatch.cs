using Keybrake.Domain.Activity;

namespace Keybrake.Domain.Work;

/// <summary>One tenant-day of a work item; <see cref="DirtyVersion"/> is set for a dirty mark to clear once re-rolled.</summary>
public sealed record WorkTenantDay(string Tenant, DateOnly Day, string? DirtyVersion = null)
{
    public TenantDay TenantDay => new(Tenant, Day);
}

/// <summary>
/// A queue work item: one kind of job over a batch of tenant-days (see <see cref="WorkKinds"/>). Timers only enqueue
/// these; a queue-triggered function runs each, so no invocation grows with the number of tenants.
/// </summary>
public sealed record WorkBatch(string Kind, IReadOnlyList<WorkTenantDay> Items);

public static class WorkKinds
{
    /// <summary>Settle and resolve a tenant-day's unsettled rows, finish its journal entries.</summary>
    public const string Reconcile = "reconcile";

    /// <summary>The day's consistency check (one item; its tenant is <c>*</c>).</summary>
    public const string Consistency = "consistency";

    /// <summary>Roll a closed tenant-day up (mark it rolled, or clear its dirty mark), then record its export.</summary>
    public const string Roll = "roll";

    /// <summary>Record what a closed tenant-day still owes the meter.</summary>
    public const string Export = "export";

    /// <summary>Delete a tenant-day's old sent export rows past the retention.</summary>
    public const string Purge = "purge";

    /// <summary>Index what an older version wrote: each tenant's audit partitions from the item's day to today (see <see cref="IndexBackfill"/>).</summary>
    public const string Backfill = "backfill";
}

/// <summary>Where work items go: the queue the reconciler's items use, and the nightly run's.</summary>
public interface IWorkQueue
{
    Task EnqueueAsync(string queue, WorkBatch batch, CancellationToken cancellationToken);
}

/// <summary>
/// Configuration section <c>Queues</c>: the queue names (in the <c>AzureWebJobsStorage</c> account, which the
/// queue triggers listen on) and how many tenant-days one work item carries.
/// </summary>
public sealed class WorkQueueOptions
{
    public string Reconcile { get; set; } = string.Empty;

    public string Nightly { get; set; } = string.Empty;

    /// <summary>Tenant-days per work item: small enough that an item takes seconds, large enough that enqueueing is cheap.</summary>
    public const int BatchSize = 50;

    /// <summary>A valid Azure Storage queue name: 3-63 lowercase letters, digits and single hyphens, starting and ending alphanumeric.</summary>
    public static bool IsValidName(string name) =>
        name.Length is >= 3 and <= 63 && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')
        && char.IsAsciiLetterOrDigit(name[0]) && char.IsAsciiLetterOrDigit(name[^1]) && !name.Contains("--", StringComparison.Ordinal);
}
