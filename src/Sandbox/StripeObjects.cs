using System.Text.Json.Nodes;

namespace Keybrake.Sandbox;

/// <summary>A Billing Meter event the fake Stripe accepted.</summary>
/// <param name="EventName">event_name.</param>
/// <param name="Identifier">identifier (generated when the request had none).</param>
/// <param name="Payload">payload[...] fields, e.g. stripe_customer_id and value.</param>
/// <param name="Timestamp">Unix seconds.</param>
public sealed record StripeMeterEvent(string EventName, string Identifier, IReadOnlyDictionary<string, string> Payload, long Timestamp);

internal sealed class StripePaymentIntent
{
    public required string Id { get; init; }

    public required long Amount { get; init; }

    public required string Currency { get; init; }

    public required long Created { get; init; }

    public required string CaptureMethod { get; init; }

    public required IReadOnlyDictionary<string, string> Metadata { get; set; }

    public string? Customer { get; init; }

    public string? Description { get; set; }

    public string? PaymentMethod { get; set; }

    public string Status { get; set; } = "requires_payment_method";

    public long AmountReceived { get; set; }

    public string? LatestChargeId { get; set; }

    public JsonObject? LastPaymentError { get; set; }
}

internal sealed class StripeCharge
{
    public required string Id { get; init; }

    public required long Amount { get; init; }

    public required string Currency { get; init; }

    public required long Created { get; init; }

    public required IReadOnlyDictionary<string, string> Metadata { get; init; }

    public string? PaymentIntentId { get; init; }

    public string? PaymentMethod { get; init; }

    public string? BalanceTransactionId { get; set; }

    public string Status { get; set; } = "pending";

    public bool Paid { get; set; }

    public long AmountRefunded { get; set; }

    public string? FailureCode { get; set; }

    public string? FailureMessage { get; set; }
}

internal sealed class StripeBalanceTransaction
{
    public required string Id { get; init; }

    public required long Amount { get; init; }

    public required string Currency { get; init; }

    public required long Fee { get; init; }

    public required string Type { get; init; }

    public required string Source { get; init; }

    public required long Created { get; init; }

    public long Net => Amount - Fee;
}

internal sealed class StripeIdempotencySlot
{
    public StripeIdempotencySlot(string fingerprint)
    {
        Fingerprint = fingerprint;
    }

    public string Fingerprint { get; }

    /// <summary>The stored first response; null while the first request is still in flight.</summary>
    public VendorResponse? Stored { get; set; }

    public string? RequestId { get; set; }
}
