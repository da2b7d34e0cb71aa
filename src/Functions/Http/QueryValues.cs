using Keybrake.Domain.Common;
using Microsoft.AspNetCore.Http;

namespace Keybrake.Functions.Http;

internal static class QueryValues
{
    /// <summary>An optional ISO-8601 time from the query string, as UTC; a malformed one is a 400 naming the parameter.</summary>
    public static DateTimeOffset? Time(HttpRequest request, string name)
    {
        string? value = request.Query[name];
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        // Years 2000-9000 only: windows are computed from these times (a default "7 days before until"), and
        // 0001-01-01 minus a week does not exist; nothing this API stores lies outside that range.
        return DateTimeOffset.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out DateTimeOffset parsed)
            && parsed.UtcDateTime.Year is >= 2000 and <= 9000
            ? parsed.ToUniversalTime()
            : throw KeybrakeException.Invalid(name, "must be an ISO-8601 time between the years 2000 and 9000, e.g. 2026-11-02T00:00:00Z.");
    }
}
