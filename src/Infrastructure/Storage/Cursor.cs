using System.Buffers.Text;
using System.Text;
using Keybrake.Domain.Common;

namespace Keybrake.Infrastructure.Storage;

/// <summary>Opaque paging cursors: a Table continuation token in URL-safe base64.</summary>
internal static class Cursor
{
    public static string? Encode(string? continuation) =>
        continuation is null ? null : Base64Url.EncodeToString(Encoding.UTF8.GetBytes(continuation));

    public static string? Decode(string? cursor)
    {
        if (string.IsNullOrEmpty(cursor))
        {
            return null;
        }

        try
        {
            return Encoding.UTF8.GetString(Base64Url.DecodeFromChars(cursor));
        }
        catch (FormatException)
        {
            throw KeybrakeException.Invalid("cursor", "is not a cursor this API returned.");
        }
    }
}
