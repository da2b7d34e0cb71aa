using Keybrake.Domain.Common;

namespace Keybrake.Domain.Policy;

/// <summary>
/// One allowlist entry: an optional HTTP method, then a path where <c>*</c> matches exactly one
/// segment and <c>**</c> matches zero or more. Queries are never part of a pattern.
/// </summary>
public sealed class EndpointPattern
{
    public const int MaxLength = 512;
    private static readonly string[] Methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
    private readonly string[] _segments;

    private EndpointPattern(string text, string? method, string[] segments)
    {
        Text = text;
        Method = method;
        _segments = segments;
    }

    public string Text { get; }

    public string? Method { get; }

    public static EndpointPattern Parse(string? text, string field = "allowed_endpoints")
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw KeybrakeException.Invalid(field, "an endpoint pattern must not be empty.");
        }

        if (text.Length > MaxLength)
        {
            throw KeybrakeException.Invalid(field, $"an endpoint pattern must be at most {MaxLength} characters.");
        }

        string trimmed = text.Trim();
        string? method = null;
        int space = trimmed.IndexOf(' ', StringComparison.Ordinal);
        string path = trimmed;
        if (space > 0)
        {
            method = trimmed[..space].ToUpperInvariant();
            path = trimmed[(space + 1)..].Trim();
            if (!Methods.Contains(method, StringComparer.Ordinal))
            {
                throw KeybrakeException.Invalid(field, $"'{text}' has an unknown method; use one of {string.Join(", ", Methods)}.");
            }
        }

        if (!path.StartsWith('/'))
        {
            throw KeybrakeException.Invalid(field, $"'{text}' must have a path starting with '/'.");
        }

        if (path.Any(c => c < 0x21 || c > 0x7E || c is '?' or '#' or '\\'))
        {
            throw KeybrakeException.Invalid(field, $"'{text}' may contain only printable characters without spaces, '?', '#' or '\\'.");
        }

        string[] segments = path.Length == 1 ? [] : path[1..].Split('/');
        foreach (string segment in segments)
        {
            if (segment.Length == 0 || segment is "." or "..")
            {
                throw KeybrakeException.Invalid(field, $"'{text}' has an empty, '.' or '..' segment.");
            }

            if (segment.Contains('*', StringComparison.Ordinal) && segment is not "*" and not "**")
            {
                throw KeybrakeException.Invalid(field, $"'{text}': '*' and '**' must stand for a whole segment.");
            }
        }

        return new EndpointPattern(method is null ? path : method + " " + path, method, segments);
    }

    /// <summary>Matches an already normalised path (segments without empty, '.' or '..' parts).</summary>
    public bool Matches(string method, IReadOnlyList<string> pathSegments)
    {
        if (Method is not null && !string.Equals(Method, method, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return Match(0, 0, pathSegments);
    }

    private bool Match(int p, int s, IReadOnlyList<string> path)
    {
        while (p < _segments.Length)
        {
            string segment = _segments[p];
            if (segment == "**")
            {
                // Try every split; patterns are short and allowlists small, so this stays cheap.
                for (int skip = s; skip <= path.Count; skip++)
                {
                    if (Match(p + 1, skip, path))
                    {
                        return true;
                    }
                }

                return false;
            }

            if (s >= path.Count || (segment != "*" && !string.Equals(segment, path[s], StringComparison.Ordinal)))
            {
                return false;
            }

            p++;
            s++;
        }

        return s == path.Count;
    }

    public override string ToString() => Text;
}
