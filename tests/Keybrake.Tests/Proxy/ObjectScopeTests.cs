using System.Text;
using System.Text.Json;
using Keybrake.Domain.Pricing;
using Keybrake.Domain.Proxy;
using Keybrake.Domain.Vendors;

namespace Keybrake.Tests.Proxy;

/// <summary>Which objects a request names, per vendor: the pure parsing behind policy step 5.</summary>
public sealed class ObjectScopeTests
{
    private static readonly StripeVendor Stripe = new(new Currencies(new PricingOptions()));
    private static readonly TwilioVendor Twilio = new(new PricingOptions());
    private static readonly ResendVendor Resend = new(new PricingOptions());

    public static TheoryData<string, string, string?, string?, string[]> StripeCalls() => new()
    {
        { "GET", "/v1/payment_intents/pi_1", null, null, ["pi_1"] },
        { "POST", "/v1/payment_intents/pi_1/capture", "", null, ["pi_1"] },
        { "POST", "/v1/refunds", "amount=5&payment_intent=pi_1", null, ["pi_1"] },
        { "POST", "/v1/refunds", "charge=ch_1&charge=ch_2", null, ["ch_1", "ch_2"] },
        { "POST", "/v1/refunds", "amount=5", "?charge=ch_9", ["ch_9"] },
        { "POST", "/v1/payment_intents", "amount=5&currency=usd&customer=cus_1&payment_method=pm_card_visa", null, ["cus_1"] },
        { "POST", "/v1/invoices", "customer=cus_1&subscription=sub_1", null, ["cus_1", "sub_1"] },
        { "GET", "/v1/customers/cus_1/sources", null, null, ["cus_1"] },
        { "GET", "/v1/payment_intents/search", null, "?query=x", [] },
        { "GET", "/v1/checkout/sessions/cs_1", null, null, ["cs_1"] },
    };

    [Theory]
    [MemberData(nameof(StripeCalls))]
    public void Stripe_NamesEveryReferencedObject(string method, string path, string? form, string? query, string[] expected)
    {
        ObjectScope scope = Stripe.Objects(StripeCall(method, path, form), query);
        Assert.Null(scope.Refusal);
        Assert.Equal(expected, scope.Named.Select(n => n.Id));
    }

    [Theory]
    [InlineData("metadata[keybrake_tenant]=acme")]
    [InlineData("metadata%5Bkeybrake_tenant%5D=acme")]
    [InlineData("metadata=")]
    public void Stripe_TheOwnerTagIsNotTheAgents(string form) =>
        Assert.NotNull(Stripe.Objects(StripeCall("POST", "/v1/payment_intents/pi_1", form), null).Refusal);

    [Fact]
    public void Stripe_BodyWithoutContentType_StillNamesItsReferences()
    {
        // Stripe reads such a body as a form: a check that skipped it would let a foreign refund through.
        ProxyCall call = StripeCall("POST", "/v1/refunds", "charge=ch_victim") with { ContentType = null };
        Assert.Equal(["ch_victim"], Stripe.Objects(call, null).Named.Select(n => n.Id));
    }

    [Fact]
    public void Stripe_ListsAreFiltered_CreatesAreTagged()
    {
        Assert.Equal(ListScope.Filter, Stripe.Objects(StripeCall("GET", "/v1/payment_intents", null), "?limit=3").List);
        Assert.Equal(ListScope.Filter, Stripe.Objects(StripeCall("GET", "/v1/customers/search", null), "?query=x").List);
        ProxyCall create = StripeCall("POST", "/v1/customers", "email=a%40b.c");
        Assert.True(Stripe.Objects(create, null).Creates);
        Assert.Equal("email=a%40b.c&metadata%5Bkeybrake_tenant%5D=acme2", Encoding.UTF8.GetString(Stripe.TagOwner(create, "acme2").Body.Span));

        // /v1/tokens does not accept metadata: not tagged, so never owned.
        Assert.False(Stripe.Objects(StripeCall("POST", "/v1/tokens", "card=x"), null).Creates);
    }

    [Fact]
    public void Stripe_OwnerFromMetadata_ElseThroughThePaymentIntent()
    {
        using JsonDocument tagged = JsonDocument.Parse("""{"id":"ch_1","metadata":{"keybrake_tenant":"acme"},"payment_intent":"pi_1"}""");
        Assert.Equal("acme", Stripe.OwnerOf(tagged.RootElement).Tenant);
        using JsonDocument untagged = JsonDocument.Parse("""{"id":"ch_1","metadata":{},"payment_intent":{"id":"pi_7"}}""");
        OwnerHint hint = Stripe.OwnerOf(untagged.RootElement);
        Assert.Null(hint.Tenant);
        Assert.Equal(["v1", "payment_intents", "pi_7"], hint.Follow!.LookupPath!);
    }

    [Theory]
    [InlineData("GET", "/2010-04-01/Accounts/AC1/Messages/SM1.json", "SM1", "None", false)]
    [InlineData("POST", "/2010-04-01/Accounts/AC1/Messages/SM1.json", "SM1", "None", false)]
    [InlineData("GET", "/2010-04-01/Accounts/AC1/Messages/SM1/Media/ME1.json", "SM1", "None", false)]
    [InlineData("GET", "/2010-04-01/Accounts/AC1/Messages.json", null, "Refuse", false)]
    [InlineData("POST", "/2010-04-01/Accounts/AC1/Messages.json", null, "None", true)]
    public void Twilio_MessagesByPath(string method, string path, string? named, string list, bool creates)
    {
        ObjectScope scope = Twilio.Objects(Call("twilio", method, path, null), null);
        Assert.Equal(named is null ? [] : [named], scope.Named.Select(n => n.Id));
        Assert.Equal(Enum.Parse<ListScope>(list), scope.List);
        Assert.Equal(creates, scope.Creates);
    }

    [Theory]
    [InlineData("GET", "/emails/e1", "e1", "None", false)]
    [InlineData("POST", "/emails/e1/cancel", "e1", "None", false)]
    [InlineData("PATCH", "/emails/e1", "e1", "None", false)]
    [InlineData("GET", "/emails", null, "Refuse", false)]
    [InlineData("POST", "/emails", null, "None", true)]
    [InlineData("POST", "/emails/batch", null, "None", true)]
    public void Resend_EmailsByPath(string method, string path, string? named, string list, bool creates)
    {
        ObjectScope scope = Resend.Objects(Call("resend", method, path, null), null);
        Assert.Equal(named is null ? [] : [named], scope.Named.Select(n => n.Id));
        Assert.Equal(Enum.Parse<ListScope>(list), scope.List);
        Assert.Equal(creates, scope.Creates);
    }

    [Theory]
    [InlineData("pi_3PxQ2aLkdIwHu7ix0abc1234", true)]
    [InlineData("49a3999c-0ce1-4ea6-ab68-afcd6dc2e794", true)]
    [InlineData("pi_1|acme", false)]
    [InlineData("pi 1", false)]
    [InlineData("", false)]
    public void OnlyPlainIdsAreLookedUp(string id, bool plain) => Assert.Equal(plain, ObjectScope.IsPlainId(id));

    private static ProxyCall StripeCall(string method, string path, string? form)
    {
        ProxyCall call = Call("stripe", method, path, form);
        return call with { Operation = Stripe.Operation(method, call.Segments) };
    }

    private static ProxyCall Call(string vendor, string method, string path, string? form) => new(
        vendor, method, PathNormalizer.Normalize(path), "op", form is null ? null : "application/x-www-form-urlencoded",
        form is null ? ReadOnlyMemory<byte>.Empty : Encoding.UTF8.GetBytes(form), null);
}
