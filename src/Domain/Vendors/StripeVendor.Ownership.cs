using System.Text.Json;
using Keybrake.Domain.Proxy;

namespace Keybrake.Domain.Vendors;

/// <summary>
/// Stripe on a shared account: which objects a call names, how the owning tenant is tagged on what it creates, and
/// how an object's owner is read back (object ownership: docs/design.md §9).
/// </summary>
public sealed partial class StripeVendor
{
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

    public override string? ReplayedHeader => "Idempotent-Replayed";

    public override IReadOnlyList<string> RefusedAccountHeaders { get; } = ["Stripe-Context"];

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

        // The body is read as a form whatever its declared type: Stripe reads a body without one as a form,
        // and reading more than the vendor would can only refuse more, never let a reference through.
        foreach ((string name, string value) in Pairs(call.Body.Span, query))
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
        if (!IsForm(call) && !call.Body.IsEmpty && call.ContentType is not null)
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
}
