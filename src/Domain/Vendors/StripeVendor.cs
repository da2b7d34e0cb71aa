using System.Globalization;
using System.Text.Json;
using Keybrake.Domain.Common;
using Keybrake.Domain.Pricing;
using Keybrake.Domain.Proxy;

namespace Keybrake.Domain.Vendors;

/// <summary>
/// Stripe: Bearer secret key, form-encoded requests, JSON responses. Money-moving creates cost their
/// amount in USD (known exactly from the request), refunds cost minus theirs, reads cost nothing.
/// </summary>
public sealed partial class StripeVendor(Currencies currencies) : VendorDefinition
{
    private static readonly HashSet<string> Namespaces = new(StringComparer.Ordinal)
    {
        "apps", "billing", "billing_portal", "checkout", "climate", "entitlements", "financial_connections", "forwarding",
        "identity", "issuing", "radar", "reporting", "sigma", "tax", "terminal", "test_helpers", "treasury",
    };

    // Operations whose request carries the amount they move.
    private static readonly HashSet<string> AmountCreates = new(StringComparer.Ordinal)
    {
        "payment_intents.create", "charges.create", "transfers.create", "payouts.create",
    };

    public override string Name => "stripe";

    public override Uri DefaultBaseUrl { get; } = new("https://api.stripe.com/");

    public override IReadOnlyList<string> SecretNames { get; } = [Secrets.SecretNames.StripeSecretKey];

    // Stripe's documented request headers (idempotency, API version, connected account) and its SDKs' own client description.
    public override IReadOnlySet<string> ForwardedRequestHeaders { get; } =
        WithCommon("Idempotency-Key", "Stripe-Version", "Stripe-Account", "X-Stripe-Client-User-Agent");

    public override string? ReadVaultKey(string? authorization) => Bearer(authorization) ?? Basic(authorization)?.User;

    public override UpstreamAuthorization Authorize(IReadOnlyDictionary<string, string> secrets, IReadOnlyList<string> segments) =>
        new("Bearer " + secrets[Secrets.SecretNames.StripeSecretKey], segments);

    public override string Operation(string method, IReadOnlyList<string> segments)
    {
        int start = segments.Count > 0 && segments[0] == "v1" ? 1 : 0;
        string prefix = string.Empty;
        if (start < segments.Count && Namespaces.Contains(segments[start]) && start + 1 < segments.Count)
        {
            prefix = segments[start] + ".";
            start++;
        }

        // /v1/{resource}/{id}/{action or sub-resource}/{id}: names sit at even offsets.
        var names = new List<string>();
        for (int i = start; i < segments.Count; i += 2)
        {
            names.Add(segments[i]);
        }

        int rest = segments.Count - start;
        string verb = (method, rest % 2 == 1) switch
        {
            ("POST", true) when rest >= 3 => string.Empty,
            ("POST", true) => "create",
            ("POST", false) => "update",
            ("GET", true) => "list",
            ("GET", false) => "retrieve",
            ("DELETE", _) => "delete",
            _ => method.ToLowerInvariant(),
        };
        string name = prefix + string.Join('.', names);
        return verb.Length == 0 ? name : name + "." + verb;
    }

    /// <summary>
    /// Writes known not to move money: they are forwarded without a bound. Every other write that is not
    /// priced below (a new endpoint, <c>payment_intents.confirm</c>, <c>.capture</c>, <c>subscriptions.create</c>)
    /// is bounded by the key's whole remaining allowance.
    /// </summary>
    private static readonly HashSet<string> FreeWrites = new(StringComparer.Ordinal)
    {
        "customers.create", "customers.update", "products.create", "products.update", "prices.create", "prices.update",
        "payment_methods.attach", "payment_methods.detach", "payment_methods.update", "setup_intents.create", "setup_intents.update",
        "setup_intents.confirm", "setup_intents.cancel", "payment_intents.update", "payment_intents.cancel", "invoices.create",
        "invoices.update", "invoiceitems.create", "invoiceitems.update", "webhook_endpoints.create", "webhook_endpoints.update",
        "coupons.create", "tax_rates.create", "checkout.sessions.create", "checkout.sessions.expire", "billing.meter_events.create",
    };

    /// <summary>How a Stripe call is bounded before it is forwarded.</summary>
    public enum BoundKind
    {
        /// <summary>A read, a delete or a write that moves no money.</summary>
        Free,

        /// <summary>A create whose <c>amount</c> and <c>currency</c> are in the request: exact.</summary>
        Amount,

        /// <summary>Money back to a customer: costs minus its amount and never frees cap, so nothing to reserve.</summary>
        Refund,

        /// <summary><c>invoices/{id}/pay</c>: the invoice's <c>amount_remaining</c>, read before forwarding.</summary>
        InvoicePay,

        /// <summary>Nothing in the request bounds it: the key's whole remaining allowance.</summary>
        WholeAllowance,
    }

    public static BoundKind Bound(string method, string operation) => method switch
    {
        // Cancelling a subscription can invoice at once (invoice_now, prorations); other deletes move nothing.
        "DELETE" when operation == "subscriptions.delete" => BoundKind.WholeAllowance,
        "GET" or "HEAD" or "OPTIONS" or "DELETE" => BoundKind.Free,
        _ when AmountCreates.Contains(operation) => BoundKind.Amount,
        _ when operation == "refunds.create" => BoundKind.Refund,
        _ when operation == "invoices.pay" => BoundKind.InvoicePay,
        _ when FreeWrites.Contains(operation) => BoundKind.Free,
        _ => BoundKind.WholeAllowance,
    };

    public override CostEstimate Estimate(ProxyCall call)
    {
        BoundKind kind = Bound(call.Method, call.Operation);
        if (kind is BoundKind.Free or BoundKind.Refund)
        {
            return CostEstimate.Free;
        }

        // Read even when the bound is not in the request: a request we cannot read is not forwarded.
        RequestParameters parameters = RequestParameters.Read(call.Query, call.ContentType, call.ContentEncoding, call.Body.Span);
        switch (kind)
        {
            case BoundKind.InvoicePay:
                return CostEstimate.Lookup(["v1", "invoices", call.Segments[^2]]);
            case BoundKind.WholeAllowance:
                return CostEstimate.Unbounded;
        }

        long amount = RequestParameters.Amount(parameters.Last("amount"), "amount");
        string currency = Currency(parameters.Last("currency"));
        return new CostEstimate(currencies.ToUsdMicros(amount, currency), currency, amount);
    }

    public override CostEstimate BoundFromLookup(ProxyCall call, JsonElement found)
    {
        // An invoice that cannot be read as one has no bound: refuse rather than forward unbounded.
        if (Long(found, "amount_remaining") is not long remaining || remaining < 0 || Str(found, "currency") is not string currency)
        {
            throw new KeybrakeException(ErrorKind.Unavailable, "bound_unavailable",
                "Keybrake could not read the invoice's amount_remaining, so the payment has no upper bound and was not forwarded.");
        }

        currency = currency.ToLowerInvariant();
        return new CostEstimate(currencies.ToUsdMicros(remaining, currency), currency, remaining);
    }

    public override bool CostNeedsResponseBody(ProxyCall call) => Bound(call.Method, call.Operation) is not BoundKind.Free;

    /// <summary>Stripe's currencies are three ASCII letters, any case; anything else cannot be priced.</summary>
    private static string Currency(string? text) =>
        text is { Length: 3 } && text.All(char.IsAsciiLetter)
            ? text.ToLowerInvariant()
            : throw RequestParameters.Unreadable("'currency' must be a three-letter ISO code.");

    protected override CallCost SettleFromResponse(ProxyCall call, CostEstimate estimate, JsonElement root)
    {
        string? id = root.TryGetProperty("id", out JsonElement idElement) ? idElement.GetString() : null;
        if (call.Operation == "subscriptions.create" && (Str(root, "latest_invoice") ?? UnfinishedInvoice(root)) is string invoiceId)
        {
            // The first invoice was not expanded, or is not final yet (open: its payment may still be confirmed,
            // with Stripe.js, not through the proxy): its cost is read later (SettlementPath). Until then the
            // whole allowance reserved stays counted, so the key spends nothing more meanwhile.
            return new CallCost(estimate.CostMicros, CostSource.Estimated, null, estimate.Currency, estimate.AmountMinor, invoiceId);
        }

        (long? amount, string? currency) = call.Operation switch
        {
            "invoices.pay" => (Long(root, "amount_paid"), Str(root, "currency")),
            "payment_intents.confirm" or "payment_intents.capture" => (Long(root, "amount_received"), Str(root, "currency")),
            "subscriptions.create" => root.TryGetProperty("latest_invoice", out JsonElement invoice) && invoice.ValueKind == JsonValueKind.Object
                ? (Long(invoice, "amount_paid"), Str(invoice, "currency"))
                : (null, null),
            _ => (Long(root, "amount"), Str(root, "currency")),
        };
        if (amount is null || currency is null || !currencies.IsKnown(currency))
        {
            // Nothing to read the real cost from (a subscription whose latest_invoice was not expanded): the
            // bound reserved stands, which is never less than what the call could move.
            return new CallCost(estimate.CostMicros, CostSource.Estimated, null, estimate.Currency, estimate.AmountMinor, id);
        }

        long usd = currencies.ToUsdMicros(amount.Value, currency);
        return new CallCost(call.Operation == "refunds.create" ? -usd : usd, CostSource.Parsed, Fee(root), currency, amount, id);
    }

    /// <summary>The id of a subscription's expanded first invoice while it can still be paid (not paid, void or uncollectible).</summary>
    private static string? UnfinishedInvoice(JsonElement subscription) =>
        subscription.TryGetProperty("latest_invoice", out JsonElement invoice) && invoice.ValueKind == JsonValueKind.Object &&
        Str(invoice, "status") is not ("paid" or "void" or "uncollectible")
            ? Str(invoice, "id")
            : null;

    /// <summary>A subscription whose first invoice was not in its response is settled from that invoice (its id is the row's object id).</summary>
    public override IReadOnlyList<string>? SettlementPath(string? operation, string? objectId) =>
        operation == "subscriptions.create" && objectId?.StartsWith("in_", StringComparison.Ordinal) == true ? ["v1", "invoices", objectId] : null;

    /// <summary>What a finalized invoice took: <c>amount_paid</c>; null while it is still open or a draft.</summary>
    public override long? SettledCost(JsonElement root) =>
        Str(root, "status") is "paid" or "void" or "uncollectible" && Long(root, "amount_paid") is long paid && Str(root, "currency") is string currency &&
        currencies.IsKnown(currency)
            ? currencies.ToUsdMicros(paid, currency)
            : null;

    /// <summary>The metadata key the proxy adds to money-moving creates.</summary>
    public const string ReferenceMetadata = "keybrake_ref";

    public override ReadOnlyMemory<byte> TagForLookup(ProxyCall call, string reference)
    {
        if (!AmountCreates.Contains(call.Operation) ||
            call.ContentType?.StartsWith("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase) != true)
        {
            return call.Body;
        }

        // Derived from the agent's Idempotency-Key when it sent one, so its retries stay byte-identical to Stripe.
        string tag = (call.Body.IsEmpty ? string.Empty : "&") + Uri.EscapeDataString($"metadata[{ReferenceMetadata}]") + "=" + Uri.EscapeDataString(reference);
        byte[] tagged = new byte[call.Body.Length + System.Text.Encoding.ASCII.GetByteCount(tag)];
        call.Body.Span.CopyTo(tagged);
        System.Text.Encoding.ASCII.GetBytes(tag, tagged.AsSpan(call.Body.Length));
        return tagged;
    }

    public override (IReadOnlyList<string> Segments, string Query)? InDoubtSearch(string? operation, string reference) =>
        operation == "payment_intents.create"
            ? (["v1", "payment_intents", "search"], "?query=" + Uri.EscapeDataString($"metadata['{ReferenceMetadata}']:'{reference}'"))
            : null;

    public override long InDoubtCost(JsonElement searchResult)
    {
        long total = 0;
        foreach (JsonElement intent in searchResult.GetProperty("data").EnumerateArray())
        {
            if (Long(intent, "amount_received") is long received && received > 0 && Str(intent, "currency") is string currency)
            {
                total += currencies.ToUsdMicros(received, currency);
            }
        }

        return total;
    }

    private static bool IsForm(ProxyCall call) =>
        call.ContentType?.StartsWith("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase) == true;

    public override VendorErrorBody Error(int status, string code, string message) => new(
        "application/json",
        JsonSerializer.Serialize(new
        {
            error = new
            {
                type = status >= 500 ? "api_error" : "invalid_request_error",
                code = "keybrake_" + code,
                message,
            },
        }));

    /// <summary>The processing fee from an expanded <c>latest_charge.balance_transaction</c>, when present.</summary>
    private long? Fee(JsonElement root)
    {
        JsonElement charge = root;
        if (root.TryGetProperty("latest_charge", out JsonElement latest) && latest.ValueKind == JsonValueKind.Object)
        {
            charge = latest;
        }

        if (!charge.TryGetProperty("balance_transaction", out JsonElement txn) || txn.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        long? fee = Long(txn, "fee");
        string? currency = Str(txn, "currency");
        return fee is null || currency is null || !currencies.IsKnown(currency) ? null : currencies.ToUsdMicros(fee.Value, currency);
    }

    private static long? Long(JsonElement element, string name) =>
        element.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long result)
            ? result
            : null;

    private static string? Str(JsonElement element, string name) =>
        element.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
