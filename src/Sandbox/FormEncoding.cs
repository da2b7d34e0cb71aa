namespace Keybrake.Sandbox;

/// <summary>
/// application/x-www-form-urlencoded parsing that keeps order and repeated keys, as leniently as Rack
/// (which Stripe runs on) parses it: pairs split on '&amp;' and on ';' (Rack before 3.0), spaces after a
/// separator dropped, '+' is a space, a malformed escape is kept as typed, bytes that are not UTF-8 become
/// U+FFFD rather than an error. The proxy must refuse what this reads differently from its own strict reader.
/// </summary>
internal static class FormEncoding
{
    public static List<KeyValuePair<string, string>> Parse(string? text)
    {
        var result = new List<KeyValuePair<string, string>>();
        if (string.IsNullOrEmpty(text))
        {
            return result;
        }

        if (text[0] == '?')
        {
            text = text[1..];
        }

        foreach (var raw in text.Split(['&', ';'], StringSplitOptions.RemoveEmptyEntries))
        {
            var part = raw.TrimStart(' ');
            if (part.Length == 0)
            {
                continue;
            }

            var eq = part.IndexOf('=', StringComparison.Ordinal);
            var key = eq < 0 ? part : part[..eq];
            var value = eq < 0 ? string.Empty : part[(eq + 1)..];
            result.Add(new(Decode(key), Decode(value)));
        }

        return result;
    }

    public static IReadOnlyDictionary<string, IReadOnlyList<string>> ToDictionary(IEnumerable<KeyValuePair<string, string>> fields)
    {
        var lists = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (key, value) in fields)
        {
            if (!lists.TryGetValue(key, out var list))
            {
                list = [];
                lists[key] = list;
            }

            list.Add(value);
        }

        return lists.ToDictionary(p => p.Key, p => (IReadOnlyList<string>)p.Value.AsReadOnly(), StringComparer.Ordinal);
    }

    private static string Decode(string value)
    {
        try
        {
            return Uri.UnescapeDataString(value.Replace('+', ' '));
        }
        catch (UriFormatException)
        {
            return value;
        }
    }
}
