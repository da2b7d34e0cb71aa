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
public sealed class StripeVendor(Currencies currencies) : VendorDefinition
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

    public override CostEstimate Estimate(ProxyCall call)
    {
        if (!AmountCreates.Contains(call.Operation))
        {
            return CostEstimate.Free;
        }

        Dictionary<string, string> form = FormBody.Parse(call.Body.Span);
        if (!form.TryGetValue("amount", out string? amountText) ||
            !long.TryParse(amountText, NumberStyles.None, CultureInfo.InvariantCulture, out long amount) ||
            !form.TryGetValue("currency", out string? currency))
        {
            // Stripe itself refuses a create without a valid amount and currency; nothing moves.
            return CostEstimate.Free;
        }

        currency = currency.ToLowerInvariant();
        return new CostEstimate(currencies.ToUsdMicros(amount, currency), currency, amount);
    }

    public override bool CostNeedsResponseBody(ProxyCall call) =>
        AmountCreates.Contains(call.Operation) || call.Operation is "refunds.create" or "invoices.pay" or "subscriptions.create";

    protected override CallCost SettleFromResponse(ProxyCall call, CostEstimate estimate, JsonElement root)
    {
        string? id = root.TryGetProperty("id", out JsonElement idElement) ? idElement.GetString() : null;
        (long? amount, string? currency) = call.Operation switch
        {
            "invoices.pay" => (Long(root, "amount_paid"), Str(root, "currency")),
            "subscriptions.create" => root.TryGetProperty("latest_invoice", out JsonElement invoice) && invoice.ValueKind == JsonValueKind.Object
                ? (Long(invoice, "amount_paid"), Str(invoice, "currency"))
                : (null, null),
            _ => (Long(root, "amount"), Str(root, "currency")),
        };
        if (amount is null || currency is null)
        {
            return new CallCost(estimate.CostMicros, CostSource.Estimated, null, estimate.Currency, estimate.AmountMinor, id);
        }

        long usd = currencies.ToUsdMicros(amount.Value, currency);
        return new CallCost(call.Operation == "refunds.create" ? -usd : usd, CostSource.Parsed, Fee(root), currency, amount, id);
    }

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

    /// <summary>The metadata key that names the owning tenant of an object on a shared account.</summary>
    public const string TenantMetadata = "keybrake_tenant";

    // Parameters that reference another object, and the resource where that object can be read. These are
    // checked wherever they appear (body or query, every repetition). payment_method is deliberately not
    // here: Stripe refuses a PaymentMethod attached to a customer unless that customer is passed too, and
    // customer is checked; unattached ones (Stripe.js tokens, pm_card_visa) belong to no one.
    private static readonly Dictionary<string, string> ReferenceParameters = new(StringComparer.Ordinal)
    {
        ["payment_intent"] = "payment_intents",
        ["charge"] = "charges",
        ["customer"] = "customers",
        ["invoice"] = "invoices",
        ["subscription"] = "subscriptions",
        ["refund"] = "refunds",
        ["setup_intent"] = "setup_intents",
        ["quote"] = "quotes",
    };

    // Creates that accept metadata, so the owner travels with the object at Stripe.
    private static readonly HashSet<string> TaggableCreates = new(StringComparer.Ordinal)
    {
        "payment_intents", "charges", "refunds", "customers", "invoices", "invoiceitems", "subscriptions", "subscription_items",
        "setup_intents", "payment_methods", "quotes", "credit_notes", "transfers", "payouts", "checkout.sessions", "payment_links",
    };

    public override bool TagsOwnerAtVendor => true;

    public override string? AccountHeader => "Stripe-Account";

    public override string? ListItemsProperty => "data";

    public override ObjectScope Objects(ProxyCall call, string? query)
    {
        IReadOnlyList<string> s = call.Segments;
        if (s.Count < 2 || s[0] != "v1")
        {
            return new ObjectScope([], Refusal: "Only /v1 paths can be scoped to a tenant on a shared Stripe account.");
        }

        int start = Namespaces.Contains(s[1]) && s.Count > 2 ? 2 : 1;
        string resource = start == 2 ? s[1] + "." + s[2] : s[1];
        int rest = s.Count - start;
        var named = new List<NamedObject>();
        bool search = rest >= 2 && s[start + 1] == "search";
        if (rest >= 2 && !search)
        {
            named.Add(new NamedObject(s[start + 1], [.. s.Take(start + 2)]));
        }

        foreach ((string name, string value) in Pairs(IsForm(call) ? call.Body.Span : default, query))
        {
            if (name.Contains(TenantMetadata, StringComparison.Ordinal) || name == "metadata")
            {
                // The owner tag is the proxy's to set; clearing all metadata would clear it too.
                return new ObjectScope([], Refusal: $"metadata[{TenantMetadata}] is set by Keybrake, and metadata cannot be cleared as a whole on a shared account.");
            }

            if (ReferenceParameters.TryGetValue(name, out string? referenced) && value.Length > 0)
            {
                named.Add(new NamedObject(value, ["v1", referenced, value]));
            }
        }

        ListScope list = call.Method == "GET" && (rest == 1 || (rest == 2 && search)) ? ListScope.Filter : ListScope.None;
        bool creates = call.Method == "POST" && rest == 1 && TaggableCreates.Contains(resource);
        return new ObjectScope(named, list, creates);
    }

    public override ProxyCall TagOwner(ProxyCall call, string tenant)
    {
        if (!IsForm(call) && !call.Body.IsEmpty)
        {
            return call;
        }

        string tag = (call.Body.IsEmpty ? string.Empty : "&") + Uri.EscapeDataString($"metadata[{TenantMetadata}]") + "=" + Uri.EscapeDataString(tenant);
        byte[] tagged = new byte[call.Body.Length + System.Text.Encoding.UTF8.GetByteCount(tag)];
        call.Body.Span.CopyTo(tagged);
        System.Text.Encoding.UTF8.GetBytes(tag, tagged.AsSpan(call.Body.Length));
        return call with { Body = tagged, ContentType = call.ContentType ?? "application/x-www-form-urlencoded" };
    }

    public override IReadOnlyList<string> CreatedObjects(ProxyCall call, JsonElement root)
    {
        var ids = new List<string>();
        if (OwnershipJson.Text(root, "id") is string id)
        {
            ids.Add(id);
        }

        // A confirmed intent's charge is created with it and carries no tag of its own in every API version.
        if (OwnershipJson.Reference(root, "latest_charge") is string charge)
        {
            ids.Add(charge);
        }

        return ids;
    }

    public override OwnerHint OwnerOf(JsonElement found)
    {
        string? tenant = found.ValueKind == JsonValueKind.Object && found.TryGetProperty("metadata", out JsonElement metadata)
            ? OwnershipJson.Text(metadata, TenantMetadata)
            : null;
        string? intent = OwnershipJson.Reference(found, "payment_intent");
        return new OwnerHint(string.IsNullOrEmpty(tenant) ? null : tenant, intent is null ? null : new NamedObject(intent, ["v1", "payment_intents", intent]));
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

    internal static long UsdMicros(decimal dollars) => Usd.ToMicros(dollars);
}
