using System.Globalization;
using Keybrake.Domain.Common;

namespace Keybrake.Domain.Keys;

/// <summary>Time-to-live strings such as <c>30m</c>, <c>2h</c>, <c>7d</c>.</summary>
public static class Ttl
{
    public static readonly TimeSpan Max = TimeSpan.FromDays(30);

    public static TimeSpan Parse(string? value, string field = "expires_in") => Parse(value, Max, field);

    /// <summary>A time-to-live of at most <paramref name="max"/> (whole days).</summary>
    public static TimeSpan Parse(string? value, TimeSpan max, string field = "expires_in")
    {
        if (string.IsNullOrEmpty(value) || value.Length < 2)
        {
            throw KeybrakeException.Invalid(field, "must be a number followed by s, m, h or d, e.g. \"30m\".");
        }

        char unit = value[^1];
        string digits = value[..^1];
        if (!digits.All(char.IsAsciiDigit) ||
            !long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long amount))
        {
            throw KeybrakeException.Invalid(field, "must be a number followed by s, m, h or d, e.g. \"30m\".");
        }

        long? seconds = unit switch
        {
            's' => amount,
            'm' => amount * 60,
            'h' => amount * 3600,
            'd' => amount * 86400,
            _ => null,
        };
        if (seconds is null)
        {
            throw KeybrakeException.Invalid(field, $"unknown unit '{unit}'; use s, m, h or d.");
        }

        if (seconds <= 0)
        {
            throw KeybrakeException.Invalid(field, "must be greater than zero.");
        }

        // The first test keeps amount × unit from overflowing before the comparison.
        if (amount > (long)max.TotalSeconds || seconds > (long)max.TotalSeconds)
        {
            throw KeybrakeException.Invalid(field, $"must be at most {max.TotalDays:0} days.");
        }

        return TimeSpan.FromSeconds(seconds.Value);
    }
}
