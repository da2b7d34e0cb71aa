using System.Net.Sockets;
using System.Text;

namespace Keybrake.Tests.Support;

/// <summary>Sends a request line exactly as written, for paths that HttpClient would normalise away.</summary>
public static class RawHttp
{
    public static async Task<(int Status, string Response)> SendAsync(Uri baseAddress, string method, string target, IDictionary<string, string> headers)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(baseAddress.Host, baseAddress.Port);
        NetworkStream stream = client.GetStream();
        var request = new StringBuilder();
        request.Append(method).Append(' ').Append(target).Append(" HTTP/1.1\r\n");
        request.Append("Host: ").Append(baseAddress.Authority).Append("\r\n");
        foreach ((string name, string value) in headers)
        {
            request.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        request.Append("Content-Length: 0\r\nConnection: close\r\n\r\n");
        byte[] bytes = Encoding.Latin1.GetBytes(request.ToString());
        await stream.WriteAsync(bytes);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        string response = await reader.ReadToEndAsync();
        string statusLine = response.Split("\r\n", 2)[0];
        return (int.Parse(statusLine.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture), response);
    }
}
