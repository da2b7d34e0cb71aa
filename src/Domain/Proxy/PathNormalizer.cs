using Keybrake.Domain.Common;

namespace Keybrake.Domain.Proxy;

/// <summary>
/// Turns the raw request path after <c>/proxy/{vendor}</c> into segments, refusing anything that could
/// mean two things to two parsers: encoded slashes or backslashes, '.' and '..', empty segments,
/// control characters, and overlong paths. Percent-decoding happens exactly once.
/// </summary>
public static class PathNormalizer
{
    public const int MaxLength = 2048;

    public static IReadOnlyList<string> Normalize(string rawPath)
    {
        if (rawPath.Length > MaxLength)
        {
            throw Invalid($"The path is longer than {MaxLength} characters.");
        }

        if (rawPath.Length == 0 || rawPath == "/")
        {
            throw Invalid("The path is empty; call /proxy/{vendor}/{vendor path}.");
        }

        if (rawPath[0] != '/')
        {
            throw Invalid("The path must start with '/'.");
        }

        if (rawPath.Contains('\\', StringComparison.Ordinal) ||
            rawPath.Contains("%2f", StringComparison.OrdinalIgnoreCase) ||
            rawPath.Contains("%5c", StringComparison.OrdinalIgnoreCase))
        {
            throw Invalid("The path must not contain encoded slashes or backslashes.");
        }

        string[] rawSegments = rawPath[1..].Split('/');
        var segments = new string[rawSegments.Length];
        for (int i = 0; i < rawSegments.Length; i++)
        {
            string segment = Uri.UnescapeDataString(rawSegments[i]);

            if (segment.Length == 0)
            {
                throw Invalid("The path must not contain empty segments ('//' or a trailing '/').");
            }

            if (segment is "." or "..")
            {
                throw Invalid("The path must not contain '.' or '..' segments.");
            }

            foreach (char c in segment)
            {
                if (char.IsControl(c) || c is '/' or '\\')
                {
                    throw Invalid("The path must not contain control characters, NUL or slashes inside a segment.");
                }
            }

            segments[i] = segment;
        }

        return segments;
    }

    /// <summary>Re-encodes normalised segments for the upstream request, one escaped segment each.</summary>
    public static string Encode(IEnumerable<string> segments) => "/" + string.Join('/', segments.Select(Uri.EscapeDataString));

    private static KeybrakeException Invalid(string message) => new(ErrorKind.Validation, "invalid_path", message);
}
