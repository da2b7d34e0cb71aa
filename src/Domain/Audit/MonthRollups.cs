namespace Keybrake.Domain.Audit;

/// <summary>
/// A tenant's complete rollup days in one month, at one level: <see cref="Days"/> holds only days whose rollup is
/// complete (a day absent from it must be read from its audit rows); <see cref="EntitiesRead"/> counts what storage returned.
/// </summary>
public sealed record MonthRollupRead(IReadOnlyDictionary<DateOnly, IReadOnlyList<Rollup>> Days, int EntitiesRead);

/// <summary>
/// The coarse levels of <see cref="IRollupStore"/>'s rollups (<see cref="Levels"/>), partitioned by tenant and month, so a
/// tenant's spend over a month by agent type, feature or vendor is one partition read (plus today's audit rows) instead of
/// one read per day. Runs and labels stay in the day partitions: a day can have thousands of them, a month partition of
/// those would be as large as the audit rows it summarises, and a label-prefix read is a RowKey range there but a scan here.
/// </summary>
public interface IMonthRollupStore
{
    /// <summary>The levels a month partition holds: a few rows per tenant-day (agent types × features × vendors at most).</summary>
    static IReadOnlyList<string> Levels { get; } = ["tenant", "agent_type", "feature"];

    /// <summary>
    /// Replaces one day of the tenant's month with the rows of a daily rollup claim (those at <see cref="Levels"/>; the
    /// caller passes only those), marking the day complete last; nothing when a newer claim's copy is already there.
    /// </summary>
    Task ReplaceDayAsync(RollupWrite claim, IReadOnlyList<Rollup> rollups, CancellationToken cancellationToken);

    /// <summary>
    /// The complete days from <paramref name="from"/> to <paramref name="to"/> (one month) with their rows at
    /// <paramref name="level"/> whose key starts with <paramref name="keyPrefix"/> (and of <paramref name="vendor"/>, if given).
    /// </summary>
    Task<MonthRollupRead> ReadAsync(string tenant, DateOnly from, DateOnly to, string level, string keyPrefix, string? vendor, CancellationToken cancellationToken);
}
