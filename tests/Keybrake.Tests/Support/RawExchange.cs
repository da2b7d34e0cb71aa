using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Keybrake.Tests.Support;

/// <summary>
/// One HTTP/1.1 exchange written byte for byte: the request line and every header exactly as given
/// (no Host, Connection or Content-Length added, unlike <see cref="RawHttp"/>), so a test can send an
/// absolute-form target, a foreign Host, hop-by-hop headers or a body with headers HttpClient would rewrite.
/// The answer is read to the end of its body (Content-Length, chunked, or the connection closing), so
/// keep-alive requests work too.
/// </summary>
public static class RawExchange
{
    public sealed record Reply(int Status, IReadOnlyList<KeyValuePair<string, string>> Headers, string Body, string Raw)
    {
        public IEnumerable<string> Values(string name) =>
            Headers.Where(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value);

        public bool Has(string name) => Values(name).Any();
    }

    public static async Task<Reply> SendAsync(
        Uri server, string requestLine, IEnumerable<(string Name, string Value)> headers, string? body = null)
    {
        using var client = new TcpClient();

        // A guard against a hung server, not a timing assertion.
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await client.ConnectAsync(server.Host, server.Port, guard.Token);
        NetworkStream stream = client.GetStream();

        byte[] content = body is null ? [] : Encoding.UTF8.GetBytes(body);
        var head = new StringBuilder();
        head.Append(requestLine).Append("\r\n");
        foreach ((string name, string value) in headers)
        {
            head.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        if (body is not null)
        {
            head.Append("Content-Length: ").Append(content.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        }

        head.Append("\r\n");
        await stream.WriteAsync(Encoding.Latin1.GetBytes(head.ToString()), guard.Token);
        await stream.WriteAsync(content, guard.Token);

        using var received = new MemoryStream();
        byte[] buffer = new byte[16 * 1024];
        int read;
        while (!IsComplete(received.GetBuffer().AsSpan(0, (int)received.Length)) &&
               (read = await stream.ReadAsync(buffer, guard.Token)) > 0)
        {
            received.Write(buffer, 0, read);
        }

        return Parse(received.ToArray());
    }

    private static bool IsComplete(ReadOnlySpan<byte> bytes)
    {
        int end = bytes.IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            return false;
        }

        string head = Encoding.Latin1.GetString(bytes[..end]);
        ReadOnlySpan<byte> body = bytes[(end + 4)..];
        foreach (string line in head.Split("\r\n").Skip(1))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            string name = colon > 0 ? line[..colon].Trim() : string.Empty;
            string value = colon > 0 ? line[(colon + 1)..].Trim() : string.Empty;
            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                return body.Length >= int.Parse(value, CultureInfo.InvariantCulture);
            }

            if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) && value.Contains("chunked", StringComparison.OrdinalIgnoreCase))
            {
                return body.EndsWith("0\r\n\r\n"u8);
            }
        }

        // Neither: the body ends when the server closes the connection.
        return false;
    }

    private static Reply Parse(byte[] bytes)
    {
        int end = bytes.AsSpan().IndexOf("\r\n\r\n"u8);
        string headText = Encoding.Latin1.GetString(bytes, 0, end < 0 ? bytes.Length : end);
        byte[] body = end < 0 ? [] : bytes[(end + 4)..];
        string[] lines = headText.Split("\r\n");
        int status = int.Parse(lines[0].Split(' ')[1], CultureInfo.InvariantCulture);
        var headers = new List<KeyValuePair<string, string>>();
        foreach (string line in lines.Skip(1))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                headers.Add(new(line[..colon].Trim(), line[(colon + 1)..].Trim()));
            }
        }

        if (headers.Any(h => h.Key.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) &&
                             h.Value.Contains("chunked", StringComparison.OrdinalIgnoreCase)))
        {
            body = Dechunk(body);
        }

        return new Reply(status, headers, Encoding.UTF8.GetString(body), Encoding.Latin1.GetString(bytes));
    }

    private static byte[] Dechunk(byte[] chunked)
    {
        using var body = new MemoryStream();
        int position = 0;
        while (position < chunked.Length)
        {
            int lineEnd = chunked.AsSpan(position).IndexOf("\r\n"u8);
            if (lineEnd < 0)
            {
                break;
            }

            string sizeText = Encoding.Latin1.GetString(chunked, position, lineEnd).Split(';')[0].Trim();
            int size = int.Parse(sizeText, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (size == 0)
            {
                break;
            }

            body.Write(chunked, position + lineEnd + 2, size);
            position += lineEnd + 2 + size + 2;
        }

        return body.ToArray();
    }
}
