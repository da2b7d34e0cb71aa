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

        return DateTimeOffset.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out DateTimeOffset parsed)
            ? parsed.ToUniversalTime()
            : throw KeybrakeException.Invalid(name, "must be an ISO-8601 time, e.g. 2026-11-02T00:00:00Z.");
    }
}
