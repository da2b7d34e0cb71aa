namespace Keybrake.Infrastructure.Storage;

internal static class TableFilters
{
    /// <summary>
    /// The smallest string greater than every string starting with <paramref name="prefix"/>, for range
    /// filters. Labels and tenants are printable ASCII, so bumping the last character is always possible.
    /// </summary>
    public static string UpperBound(string prefix) => prefix[..^1] + (char)(prefix[^1] + 1);
}
