using System.Text;

namespace Keybrake.Domain.Vendors;

/// <summary>Reads <c>application/x-www-form-urlencoded</c> bodies (Stripe, Twilio); the first value of a key wins.</summary>
public static class FormBody
{
    public static Dictionary<string, string> Parse(ReadOnlySpan<byte> body)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string pair in Encoding.UTF8.GetString(body).Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int equals = pair.IndexOf('=', StringComparison.Ordinal);
            string name = Decode(equals < 0 ? pair : pair[..equals]);
            string value = equals < 0 ? string.Empty : Decode(pair[(equals + 1)..]);
            values.TryAdd(name, value);
        }

        return values;
    }

    private static string Decode(string value) => Uri.UnescapeDataString(value.Replace('+', ' '));
}
