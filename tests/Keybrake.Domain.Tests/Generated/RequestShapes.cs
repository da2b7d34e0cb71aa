using System.IO.Compression;
using System.Text;

namespace Keybrake.Domain.Tests.Generated;

/// <summary>One generated request: what an agent (or an attacker) sends to the proxy for a vendor path.</summary>
/// <param name="Path">The vendor path, e.g. <c>v1/payment_intents</c> (the proxy route adds <c>/proxy/{vendor}/</c>).</param>
/// <param name="Query">The query string with its '?', or empty.</param>
/// <param name="Chunked">Send the body without a Content-Length.</param>
/// <param name="Description">Human-readable, printed when a case fails.</param>
public sealed record RequestShape(string Method, string Path, string Query, string? ContentType, string? ContentEncoding, byte[] Body, bool Chunked, string Description)
{
    public override string ToString() => Description;
}

/// <summary>
/// Seeded generators of request shapes for each money-moving operation: parameters split between the
/// query string and the body, repeated, reordered, re-encoded, numbers with signs, spaces, leading zeros
/// and exponents, other content types and charsets, byte-order marks, bytes that are not UTF-8, gzip,
/// chunked bodies. Shared by the domain tests (thousands of cases against the estimators) and the HTTP
/// tests (hundreds through the proxy to the fake vendors), so both see the same shapes.
/// </summary>
public static class RequestShapes
{
    /// <summary>The seed: <c>KEYBRAKE_TEST_SEED</c> when set (to replay a failure), else a fresh one, always printed by the tests.</summary>
    public static int Seed() =>
        int.TryParse(Environment.GetEnvironmentVariable("KEYBRAKE_TEST_SEED"), out int seed) ? seed : Random.Shared.Next();

    /// <summary>A Stripe create that carries its amount (payment intents, charges, transfers, payouts).</summary>
    public static RequestShape StripeAmountCreate(Random rng, string path, long maxAmountMinor)
    {
        long amount = rng.NextInt64(50, maxAmountMinor + 1);
        string currency = Pick(rng, "usd", "usd", "usd", "USD", "eur", "gbp", "jpy");
        var notes = new List<string> { $"amount {amount} {currency}" };
        var pairs = new List<Pair>
        {
            new(NameOf(rng, "amount", notes), AmountText(rng, amount, notes), Place(rng, 3)),
            new("currency", CurrencyText(rng, currency, notes), Place(rng, 4)),
            new("confirm", "true", Place(rng, 4)),
            new("payment_method", "pm_card_visa", Place(rng, 4)),
            new("metadata[order]", "order " + rng.Next(1_000_000), Place(rng, 2)),
        };
        if (rng.Next(3) == 0)
        {
            // A second amount: smaller or larger, in the same place or the other one, before or after.
            long decoy = rng.Next(2) == 0 ? 1 : rng.NextInt64(1, maxAmountMinor * 3);
            var place = rng.Next(2) == 0 ? pairs[0].InQuery : !pairs[0].InQuery;
            pairs.Insert(rng.Next(2) == 0 ? 0 : pairs.Count, new Pair("amount", decoy.ToString(System.Globalization.CultureInfo.InvariantCulture), place));
            notes.Add($"second amount {decoy} in {(place ? "query" : "body")}");
        }

        if (rng.Next(8) == 0)
        {
            pairs.Add(new Pair("currency", Pick(rng, "jpy", "usd", "kwd"), Place(rng, 2)));
            notes.Add("second currency");
        }

        return Form(rng, "POST", path, pairs, notes);
    }

    /// <summary><c>POST /v1/invoices/{id}/pay</c> with whatever parameters and encodings around it.</summary>
    public static RequestShape StripeInvoicePay(Random rng, string invoiceId)
    {
        var notes = new List<string> { "pay " + invoiceId };
        var pairs = new List<Pair>();
        if (rng.Next(2) == 0)
        {
            pairs.Add(new Pair("payment_method", "pm_card_visa", Place(rng, 2)));
        }

        if (rng.Next(4) == 0)
        {
            pairs.Add(new Pair("amount", rng.Next(1, 100).ToString(System.Globalization.CultureInfo.InvariantCulture), Place(rng, 2)));
            notes.Add("an amount the pay call ignores");
        }

        return Form(rng, "POST", $"v1/invoices/{invoiceId}/pay", pairs, notes);
    }

    /// <summary><c>POST /v1/subscriptions</c> naming one or two seeded prices.</summary>
    public static RequestShape StripeSubscriptionCreate(Random rng, IReadOnlyList<string> priceIds)
    {
        var notes = new List<string> { "subscription" };
        var pairs = new List<Pair> { new("customer", "cus_" + rng.Next(1000), Place(rng, 3)) };
        int items = rng.Next(1, 3);
        for (int i = 0; i < items; i++)
        {
            pairs.Add(new Pair($"items[{i}][price]", priceIds[rng.Next(priceIds.Count)], Place(rng, 3)));
            if (rng.Next(2) == 0)
            {
                pairs.Add(new Pair($"items[{i}][quantity]", rng.Next(1, 4).ToString(System.Globalization.CultureInfo.InvariantCulture), Place(rng, 3)));
            }
        }

        if (rng.Next(2) == 0)
        {
            pairs.Add(new Pair("expand[]", "latest_invoice", Place(rng, 2)));
            notes.Add("expanded");
        }

        return Form(rng, "POST", "v1/subscriptions", pairs, notes);
    }

    /// <summary>A Twilio message: texts of every alphabet and length, media, Body in either place or both.</summary>
    public static RequestShape TwilioMessage(Random rng, string accountSid)
    {
        string body = SmsText(rng);
        var notes = new List<string> { $"body of {body.Length} chars" };
        var pairs = new List<Pair>
        {
            new("To", "+1514553" + rng.Next(1000, 9999), Place(rng, 4)),
            new("From", "+15149002890", Place(rng, 4)),
            new("Body", body, Place(rng, 3)),
        };
        if (rng.Next(5) == 0)
        {
            pairs.Add(new Pair("MediaUrl", "https://example.com/cat.gif", Place(rng, 3)));
            notes.Add("media");
        }

        if (rng.Next(6) == 0)
        {
            string other = SmsText(rng);
            pairs.Insert(rng.Next(2) == 0 ? 0 : pairs.Count, new Pair("Body", other, Place(rng, 2)));
            notes.Add($"second body of {other.Length} chars");
        }

        return Form(rng, "POST", $"2010-04-01/Accounts/{accountSid}/Messages.json", pairs, notes);
    }

    /// <summary>A Resend send (<paramref name="batch"/> false) or batch: JSON of every strictness, content type and charset.</summary>
    public static RequestShape ResendEmails(Random rng, bool batch)
    {
        int count = batch ? rng.Next(1, 8) : 1;
        var notes = new List<string> { batch ? $"batch of {count}" : "one email" };
        var emails = Enumerable.Range(0, count).Select(i =>
            $"{{\"from\":\"a@example.com\",\"to\":[\"u{i}@example.com\"],\"subject\":\"s{rng.Next(1000)}\",\"text\":\"{(rng.Next(5) == 0 ? "caf\u00e9 \u2603" : "hi")}\"}}").ToList();
        string json = batch ? "[" + string.Join(",", emails) + "]" : emails[0];
        if (!batch && rng.Next(8) == 0)
        {
            json = "[" + json + "]";
            notes.Add("a send given an array");
        }

        if (batch && rng.Next(10) == 0)
        {
            json = "{\"emails\":" + json + "}";
            notes.Add("a batch wrapped in an object");
        }

        switch (rng.Next(20))
        {
            case 0:
                json = json[..^1] + "," + json[^1];
                notes.Add("trailing comma");
                break;
            case 1:
                json = "/* hi */" + json;
                notes.Add("comment");
                break;
        }

        byte[] bytes = Encoding.UTF8.GetBytes(json);
        string? contentType = rng.Next(4) > 0
            ? Pick(rng, "application/json", "application/json; charset=utf-8", "APPLICATION/JSON")
            : Pick(rng, "text/plain", null, "application/json; charset=utf-16", "application/x-www-form-urlencoded");
        notes.Add("content type " + (contentType ?? "(none)"));
        return Finish(rng, "POST", batch ? "emails/batch" : "emails", string.Empty, contentType, bytes, notes);
    }

    private static RequestShape Form(Random rng, string method, string path, List<Pair> pairs, List<string> notes)
    {
        if (rng.Next(2) == 0)
        {
            Shuffle(rng, pairs);
            notes.Add("reordered");
        }

        string Join(bool query)
        {
            var builder = new StringBuilder();
            foreach (Pair pair in pairs.Where(p => p.InQuery == query))
            {
                if (builder.Length > 0)
                {
                    string separator = rng.Next(40) switch { 0 => ";", 1 => "& ", _ => "&" };
                    builder.Append(separator);
                    if (separator != "&")
                    {
                        notes.Add($"separator '{separator}'");
                    }
                }

                builder.Append(Encode(rng, pair.Name)).Append('=').Append(Encode(rng, pair.Value));
            }

            return builder.ToString();
        }

        string query = Join(query: true);
        string form = Join(query: false);
        notes.Add($"query '{query}', body '{form}'");
        string? contentType = form.Length == 0 && rng.Next(2) == 0
            ? null
            : rng.Next(4) > 0
                ? Pick(rng, "application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-8", "Application/X-WWW-Form-Urlencoded")
                : Pick(rng, "application/x-www-form-urlencoded; charset=iso-8859-1", "application/x-www-form-urlencoded; charset=utf-16", null,
                    "application/json", "text/plain", "multipart/form-data; boundary=x");
        notes.Add("content type " + (contentType ?? "(none)"));

        byte[] body;
        if (contentType == "application/json")
        {
            // The same body parameters as a JSON object, which some API stacks read as parameters too.
            body = Encoding.UTF8.GetBytes("{" + string.Join(",", pairs.Where(p => !p.InQuery).Select(p => $"\"{p.Name}\":\"{p.Value}\"")) + "}");
        }
        else if (contentType?.EndsWith("utf-16", StringComparison.Ordinal) == true)
        {
            body = Encoding.Unicode.GetBytes(form);
        }
        else if (contentType?.EndsWith("iso-8859-1", StringComparison.Ordinal) == true)
        {
            body = Encoding.Latin1.GetBytes(form.Replace("order", "ordér", StringComparison.Ordinal));
        }
        else
        {
            body = Encoding.UTF8.GetBytes(form);
        }

        if (rng.Next(40) == 0 && body.Length > 0)
        {
            // A byte that is not UTF-8 in the middle of the body.
            int at = rng.Next(body.Length);
            body = [.. body[..at], 0xFF, .. body[at..]];
            notes.Add("raw 0xFF");
        }

        return Finish(rng, method, path, query.Length == 0 ? string.Empty : "?" + query, contentType, body, notes);
    }

    private static RequestShape Finish(Random rng, string method, string path, string query, string? contentType, byte[] body, List<string> notes)
    {
        if (rng.Next(40) == 0)
        {
            body = [0xEF, 0xBB, 0xBF, .. body];
            notes.Add("byte-order mark");
        }

        string? contentEncoding = null;
        switch (rng.Next(40))
        {
            case 0:
                contentEncoding = "gzip";
                using (var packed = new MemoryStream())
                {
                    using (var gzip = new GZipStream(packed, CompressionLevel.Fastest))
                    {
                        gzip.Write(body);
                    }

                    body = packed.ToArray();
                }

                notes.Add("gzip");
                break;
            case 1:
                contentEncoding = "identity";
                notes.Add("identity encoding");
                break;
        }

        bool chunked = rng.Next(3) == 0;
        if (chunked)
        {
            notes.Add("chunked");
        }

        return new RequestShape(method, path, query, contentType, contentEncoding, body, chunked, string.Join("; ", notes));
    }

    /// <summary>The amount in one of the many forms a lenient server reads as a number (or not).</summary>
    private static string AmountText(Random rng, long amount, List<string> notes)
    {
        string digits = amount.ToString(System.Globalization.CultureInfo.InvariantCulture);
        (string text, string note) = rng.Next(50) switch
        {
            0 => ("+" + digits, "plus sign"),
            1 => ("0" + digits, "leading zero"),
            2 => (" " + digits, "leading space"),
            3 => (digits + " ", "trailing space"),
            4 => (digits + ".0", "decimal point"),
            5 => (digits + "e0", "exponent"),
            6 => (amount % 10 == 0 ? (amount / 10) + "e1" : digits + "E0", "exponent form"),
            7 => (digits[..1] + "_" + digits[1..], "digit separator"),
            8 => ("-" + digits, "minus sign"),
            9 => ("99999999999999999999", "overflow"),
            10 => (string.Empty, "empty"),
            11 => ("\uff11\uff10\uff10", "full-width digits"),
            12 => ("0x" + amount.ToString("x", System.Globalization.CultureInfo.InvariantCulture), "hex"),
            13 => (digits + "\t", "tab"),
            _ => (digits, string.Empty),
        };
        if (note.Length > 0)
        {
            notes.Add("amount with " + note);
        }

        return text;
    }

    private static string CurrencyText(Random rng, string currency, List<string> notes) => rng.Next(12) switch
    {
        0 => Note(" " + currency, "currency with space", notes),
        1 => Note(currency.ToUpperInvariant(), "currency upper case", notes),
        _ => currency,
    };

    private static string NameOf(Random rng, string name, List<string> notes) => rng.Next(40) switch
    {
        0 => Note(" " + name, "name with leading space", notes),
        1 => Note(name + "\u0000", "name with NUL", notes),
        _ => name,
    };

    private static string Note(string value, string note, List<string> notes)
    {
        notes.Add(note);
        return value;
    }

    /// <summary>Percent-encodes what must be, and sometimes more; spaces as '+' or %20.</summary>
    private static string Encode(Random rng, string text)
    {
        int style = rng.Next(6);
        var builder = new StringBuilder();
        foreach (byte b in Encoding.UTF8.GetBytes(text))
        {
            char c = (char)b;
            bool plain = b < 0x80 && (char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '~' or '[' or ']');
            if (c == ' ')
            {
                builder.Append(style == 0 ? "%20" : "+");
            }
            else if (plain && !(style == 1 && rng.Next(3) == 0))
            {
                builder.Append(c);
            }
            else
            {
                builder.Append('%').Append(b.ToString(style == 2 ? "x2" : "X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }

    private static string SmsText(Random rng)
    {
        int length = rng.Next(10) switch
        {
            0 => rng.Next(1590, 1700),
            1 or 2 => rng.Next(150, 480),
            _ => rng.Next(0, 170),
        };
        string alphabet = rng.Next(4) switch
        {
            0 => "abc XYZ 012 ^{}[]~|€\\",
            1 => "héllo wörld Ωμέγα 😀 中文",
            _ => "Hello there, your code is 12345. ",
        };
        var builder = new StringBuilder(length);
        var elements = System.Globalization.StringInfo.GetTextElementEnumerator(alphabet);
        var parts = new List<string>();
        while (elements.MoveNext())
        {
            parts.Add((string)elements.Current);
        }

        while (builder.Length < length)
        {
            builder.Append(parts[rng.Next(parts.Count)]);
        }

        return builder.ToString();
    }

    private static bool Place(Random rng, int oneInQuery) => rng.Next(oneInQuery) == 0;

    private static T Pick<T>(Random rng, params T[] values) => values[rng.Next(values.Length)];

    private static void Shuffle<T>(Random rng, List<T> values)
    {
        for (int i = values.Count - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }

    private sealed record Pair(string Name, string Value, bool InQuery);
}
