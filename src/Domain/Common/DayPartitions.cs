using System.Globalization;

namespace Keybrake.Domain.Common;

/// <summary>
/// The one spelling of a tenant's UTC day as a partition key, <c>{tenant}|{yyyy-MM-dd}</c>, shared by the audit
/// rows and cap counters (same partition, so a reservation and its row commit together) and the daily rollups.
/// The scope is a tenant, or <c>*</c> for cross-tenant counters.
/// </summary>
public static class DayPartitions
{
    public static string Of(string scope, DateTimeOffset at) => Of(scope, DateOnly.FromDateTime(at.UtcDateTime));

    public static string Of(string scope, DateOnly day) => scope + "|" + day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
}
