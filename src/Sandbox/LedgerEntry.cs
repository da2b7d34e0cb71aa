namespace Keybrake.Sandbox;

/// <summary>
/// One request a fake vendor received, as received, with what it answered.
/// Entries are immutable; a fake may replace an entry later (for example when a Twilio
/// message settles, <see cref="PriceUsd"/> is filled in on the entry that created it).
/// </summary>
public sealed record LedgerEntry
{
    /// <summary>Monotonic sequence number within one fake (1, 2, 3, ...).</summary>
    public long Sequence { get; init; }

    /// <summary>"stripe", "twilio", "resend", "lago" or "openmeter".</summary>
    public required string Vendor { get; init; }

    public required string Method { get; init; }

    /// <summary>The request path as received (still percent-encoded), without the query string.</summary>
    public required string Path { get; init; }

    /// <summary>The query string as received, including the leading '?', or empty.</summary>
    public string Query { get; init; } = string.Empty;

    /// <summary>The Authorization header value exactly as received, or null.</summary>
    public string? Authorization { get; init; }

    /// <summary>All request headers, case-insensitive; repeated headers joined with ", ".</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } =
        new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>The raw request body (UTF-8), empty when there was none.</summary>
    public string Body { get; init; } = string.Empty;

    /// <summary>
    /// Parsed form fields for application/x-www-form-urlencoded requests (keys as sent, e.g.
    /// "expand[]" or "expand[0]", "metadata[order]"), each with all its values in order.
    /// Empty for other requests.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Form { get; init; } =
        new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);

    /// <summary>The response status code sent (or that would have been sent, see <see cref="Aborted"/>).</summary>
    public int Status { get; init; }

    /// <summary>The response body sent (or prepared).</summary>
    public string ResponseBody { get; init; } = string.Empty;

    /// <summary>Id of the object created or returned (pi_..., re_..., SM..., Resend email id; first id of a batch).</summary>
    public string? ObjectId { get; init; }

    /// <summary>Amount in the currency's minor unit, as the request carried it (Stripe money-moving calls).</summary>
    public long? AmountMinor { get; init; }

    /// <summary>Lower-case ISO currency of <see cref="AmountMinor"/>.</summary>
    public string? Currency { get; init; }

    /// <summary>Twilio: the settled price as a positive USD amount, null until the message settles.</summary>
    public decimal? PriceUsd { get; init; }

    /// <summary>Twilio: the segment count the fake computed for the message body.</summary>
    public int? Segments { get; init; }

    /// <summary>Resend: number of emails accepted by the call (1, or the batch length).</summary>
    public int? EmailCount { get; init; }

    /// <summary>True when the response was an idempotent replay of an earlier response (no new object).</summary>
    public bool Replayed { get; init; }

    /// <summary>
    /// True when no response reached the client: the connection was closed on purpose
    /// (<see cref="FakeVendorOptions.CloseConnectionWithoutResponse"/>) or the client went away
    /// during <see cref="FakeVendorOptions.ResponseDelay"/>. The request was still processed.
    /// </summary>
    public bool Aborted { get; init; }

    public DateTimeOffset ReceivedAt { get; init; }
}
