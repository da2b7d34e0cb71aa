using System.Text;

namespace Keybrake.Sandbox;

/// <summary>A fully buffered request as a fake vendor sees it.</summary>
internal sealed class FakeRequest
{
    public FakeRequest(
        string method,
        string path,
        string query,
        IReadOnlyDictionary<string, string> headers,
        string body,
        IReadOnlyList<KeyValuePair<string, string>> formFields,
        IReadOnlyList<KeyValuePair<string, string>> queryFields,
        DateTimeOffset receivedAt)
    {
        Method = method;
        Path = path;
        Query = query;
        Headers = headers;
        Body = body;
        FormFields = formFields;
        QueryFields = queryFields;
        ReceivedAt = receivedAt;
    }

    public string Method { get; }

    /// <summary>Raw (percent-encoded) path.</summary>
    public string Path { get; }

    public string Query { get; }

    public IReadOnlyDictionary<string, string> Headers { get; }

    public string Body { get; }

    /// <summary>Body fields in the order they were sent (empty unless the body was read as parameters, see FakeVendor).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> FormFields { get; }

    /// <summary>Query string fields in order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> QueryFields { get; }

    public DateTimeOffset ReceivedAt { get; }

    public bool IsPost => string.Equals(Method, "POST", StringComparison.OrdinalIgnoreCase);

    public bool IsGet => string.Equals(Method, "GET", StringComparison.OrdinalIgnoreCase);

    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;

    /// <summary>
    /// Parameters as the real vendors read them. Rule (Rack's <c>request.params</c>, which Stripe's API
    /// follows): the query string and the body are merged, query first, so that where a name is given in
    /// both the body's value wins. Twilio reads both places too (its docs show query-string examples).
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, string>> Parameters => [.. QueryFields, .. FormFields];

    /// <summary>
    /// The value of a parameter, or null. Rule (Rack, Stripe): when a name is repeated the last value wins
    /// (<c>amount=1&amp;amount=5000</c> is 5000), whichever place it came from.
    /// </summary>
    public string? Param(string name)
    {
        string? value = null;
        foreach (var pair in Parameters)
        {
            if (string.Equals(pair.Key, name, StringComparison.Ordinal))
            {
                value = pair.Value;
            }
        }

        return value;
    }

    /// <summary>
    /// All values of a list parameter, accepting "name[]", "name[0]", "name[1]"... (Stripe.net sends
    /// indexed keys, curl and most other clients send "name[]").
    /// </summary>
    public IReadOnlyList<string> ListParam(string name)
    {
        var values = new List<string>();
        foreach (var pair in Parameters)
        {
            if (IsListKey(pair.Key, name))
            {
                values.Add(pair.Value);
            }
        }

        return values;
    }

    /// <summary>Nested parameters "name[key]=value" (e.g. metadata, payload) as a dictionary.</summary>
    public IReadOnlyDictionary<string, string> HashParam(string name)
    {
        var values = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var prefix = name + "[";
        foreach (var pair in Parameters)
        {
            if (pair.Key.StartsWith(prefix, StringComparison.Ordinal) && pair.Key.EndsWith(']'))
            {
                var inner = pair.Key[prefix.Length..^1];
                if (inner.Length > 0 && !inner.Contains('[', StringComparison.Ordinal))
                {
                    values[inner] = pair.Value;
                }
            }
        }

        return values;
    }

    /// <summary>Canonical text of the parameters (sorted), used to compare idempotent requests.</summary>
    public string CanonicalParameters()
    {
        var builder = new StringBuilder();
        foreach (var pair in Parameters.OrderBy(p => p.Key, StringComparer.Ordinal).ThenBy(p => p.Value, StringComparer.Ordinal))
        {
            builder.Append(pair.Key).Append('=').Append(pair.Value).Append('&');
        }

        return builder.ToString();
    }

    private static bool IsListKey(string key, string name)
    {
        if (!key.StartsWith(name, StringComparison.Ordinal) || key.Length < name.Length + 2)
        {
            return false;
        }

        if (key[name.Length] != '[' || key[^1] != ']')
        {
            return false;
        }

        var inner = key.AsSpan(name.Length + 1, key.Length - name.Length - 2);
        foreach (var c in inner)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        return true;
    }
}
