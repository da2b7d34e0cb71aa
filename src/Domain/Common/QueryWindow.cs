namespace Keybrake.Domain.Common;

/// <summary>
/// The longest time window a report reads (audit, spend, operator audit): it bounds the partitions one request
/// may scan, so one message and one limit for all of them.
/// </summary>
public static class QueryWindow
{
    public const int MaxDays = 92;

    /// <summary>Refuses <c>since</c> after <c>until</c>, or a window longer than <see cref="MaxDays"/>.</summary>
    public static void Check(DateTimeOffset from, DateTimeOffset to)
    {
        if (from > to || (to - from).TotalDays > MaxDays)
        {
            throw KeybrakeException.Invalid("since", $"must not be after until, and the window may span at most {MaxDays} days.");
        }
    }
}
