using System.Text;
using System.Text.Json;
using Keybrake.Domain.Pricing;
using Keybrake.Domain.Proxy;
using Keybrake.Domain.Tests.Generated;
using Keybrake.Domain.Tests.Vendors;
using Keybrake.Domain.Vendors;

namespace Keybrake.Domain.Tests.Proxy;

/// <summary>
/// docs/design.md §3 step 5 and §9 (shared vendor accounts), read from the request alone: which objects a call names
/// (in its path or in a parameter that references one), whether it lists or creates, and what an answer says
/// about an object's owner.
/// </summary>
public sealed class ObjectOwnershipTests
{
    private static readonly PricingOptions Pricing = TestPricing.Options();
    private readonly StripeVendor _stripe = new(new Currencies(Pricing));
    private readonly TwilioVendor _twilio = new(Pricing);
    private readonly ResendVendor _resend = new(Pricing);

    [Theory]
    [InlineData("pi_3PxQ2aLkdIwHu7ix0abc1234", true)]
    [InlineData("49a3999c-0ce1-4ea6-ab68-afcd6dc2e794", true)]
    [InlineData("SM304417148af644198a0efaceebc965a5", true)]
    [InlineData("", false)]
    [InlineData("pi_1/../cus_2", false)] // would change the look-up path
    [InlineData("pi_1?expand=x", false)]
    [InlineData("pi 1", false)]
    [InlineData("pi_1|cus_2", false)] // '|' separates parts of table keys
    [InlineData("p\u00EF_1", false)]
    public void OnlyPlainIds_CanBeLookedUpOrStored(string id, bool plain) => Assert.Equal(plain, ObjectScope.IsPlainId(id));

    [Fact]
    public void AnIdOf255Characters_IsPlain_256IsNot()
    {
        Assert.True(ObjectScope.IsPlainId(new string('a', 255)));
        Assert.False(ObjectScope.IsPlainId(new string('a', 256)));
    }

    [Fact]
    public void AStripeCallNamingAnObjectInItsPath_IsCheckedAtThatObject()
    {
        ObjectScope scope = _stripe.Objects(Calls.Form(_stripe, "POST", "v1/payment_intents/pi_1/confirm", null, null), null);

        NamedObject named = Assert.Single(scope.Named);
        Assert.Equal("pi_1", named.Id);
        Assert.Equal(["v1", "payment_intents", "pi_1"], named.LookupPath!);
        Assert.Equal((ListScope.None, false, (string?)null), (scope.List, scope.Creates, scope.Refusal));
    }

    [Fact]
    public void AStripeCallReferencingObjectsInParameters_IsCheckedAtEachOne_InQueryAndBody()
    {
        ObjectScope scope = _stripe.Objects(Calls.Form(_stripe, "POST", "v1/refunds", "?charge=ch_q", "payment_intent=pi_b&customer=cus_b&amount=100"), "?charge=ch_q");

        Assert.Equal(
            ["ch_q at v1/charges/ch_q", "cus_b at v1/customers/cus_b", "pi_b at v1/payment_intents/pi_b"],
            scope.Named.Select(n => n.Id + " at " + string.Join('/', n.LookupPath!)).Order(StringComparer.Ordinal));
        Assert.True(scope.Creates); // a refund is an object the tenant will own
    }

    [Fact]
    public void AStripeNamespacedCall_IsCheckedAtItsNamespacedResource()
    {
        ObjectScope scope = _stripe.Objects(Calls.Form(_stripe, "GET", "v1/checkout/sessions/cs_1", null, null), null);

        Assert.Equal(["v1", "checkout", "sessions", "cs_1"], Assert.Single(scope.Named).LookupPath!);
    }

    [Theory]
    [InlineData("GET", "v1/customers", ListScope.Filter)]
    [InlineData("GET", "v1/payment_intents/search", ListScope.Filter)]
    [InlineData("GET", "v1/customers/cus_1", ListScope.None)]
    [InlineData("POST", "v1/customers", ListScope.None)]
    public void StripeLists_AreFilteredToTheTenantsObjects(string method, string path, ListScope list) =>
        Assert.Equal(list, _stripe.Objects(Calls.Form(_stripe, method, path, null, null), null).List);

    [Theory]
    [InlineData("metadata[keybrake_tenant]=other")]
    [InlineData("metadata%5Bkeybrake_tenant%5D=other")]
    [InlineData("metadata=")] // clearing all metadata would clear the owner tag
    public void AStripeCallTouchingTheOwnerTag_IsRefused(string body) =>
        Assert.NotNull(_stripe.Objects(Calls.Form(_stripe, "POST", "v1/customers/cus_1", null, body), null).Refusal);

    [Fact]
    public void AStripePathOutsideV1_IsRefused() =>
        Assert.NotNull(_stripe.Objects(Calls.Form(_stripe, "GET", "v2/core/events", null, null), null).Refusal);

    [Fact]
    public void AStripeCreate_IsTaggedWithItsOwner()
    {
        ProxyCall tagged = _stripe.TagOwner(Calls.Form(_stripe, "POST", "v1/customers", null, "email=a%40b"), "acme");
        ProxyCall empty = _stripe.TagOwner(Calls.Form(_stripe, "POST", "v1/customers", null, null), "acme");

        Assert.Equal("email=a%40b&metadata%5Bkeybrake_tenant%5D=acme", Encoding.UTF8.GetString(tagged.Body.Span));
        Assert.Equal(("metadata%5Bkeybrake_tenant%5D=acme", "application/x-www-form-urlencoded"), (Encoding.UTF8.GetString(empty.Body.Span), empty.ContentType));
    }

    [Theory]
    [InlineData("""{"id":"ch_1","metadata":{"keybrake_tenant":"acme"}}""", "acme", null)]
    [InlineData("""{"id":"ch_1","metadata":{},"payment_intent":"pi_1"}""", null, "pi_1")] // a charge owned through its intent
    [InlineData("""{"id":"ch_1","metadata":{"keybrake_tenant":""},"payment_intent":{"id":"pi_2"}}""", null, "pi_2")]
    [InlineData("""{"id":"cus_1"}""", null, null)]
    public void AStripeObject_NamesItsOwnerInItsMetadata_OrThroughItsIntent(string json, string? tenant, string? follow)
    {
        using JsonDocument found = JsonDocument.Parse(json);

        OwnerHint hint = _stripe.OwnerOf(found.RootElement);

        Assert.Equal((tenant, follow), (hint.Tenant, hint.Follow?.Id));
    }

    [Fact]
    public void AConfirmedStripeIntent_CreatesItsChargeToo()
    {
        using JsonDocument answer = JsonDocument.Parse("""{"id":"pi_1","object":"payment_intent","latest_charge":{"id":"ch_1","object":"charge"}}""");

        Assert.Equal(["pi_1", "ch_1"], _stripe.CreatedObjects(Calls.Form(_stripe, "POST", "v1/payment_intents", null, null), answer.RootElement));
    }

    [Theory]
    [InlineData("GET", "2010-04-01/Accounts/AC1/Messages/SM1.json", "SM1", ListScope.None, false)]
    [InlineData("GET", "2010-04-01/Accounts/AC1/Messages/SM1/Media/ME1.json", "SM1", ListScope.None, false)] // media belongs to its message
    [InlineData("POST", "2010-04-01/Accounts/AC1/Messages.json", null, ListScope.None, true)]
    [InlineData("GET", "2010-04-01/Accounts/AC1/Messages.json", null, ListScope.Refuse, false)] // no owner at Twilio to filter by
    public void TwilioCalls_AreScopedByTheResourceUnderTheAccount(string method, string path, string? named, ListScope list, bool creates)
    {
        ObjectScope scope = _twilio.Objects(Calls.Form(_twilio, method, path, null, null), null);

        Assert.Equal((named, list, creates, (string?)null), (scope.Named.SingleOrDefault()?.Id, scope.List, scope.Creates, scope.Refusal));
    }

    [Theory]
    [InlineData("2010-04-01/Accounts/AC1.json")]
    [InlineData("2010-04-01/Accounts.json")]
    [InlineData("v1/Services")]
    public void TwilioCallsOnTheAccountOrOutsideIt_AreRefused(string path) =>
        Assert.NotNull(_twilio.Objects(Calls.Form(_twilio, "GET", path, null, null), null).Refusal);

    [Theory]
    [InlineData("GET", "emails/e_1", "e_1", ListScope.None, false)]
    [InlineData("POST", "emails/e_1/cancel", "e_1", ListScope.None, false)]
    [InlineData("POST", "emails", null, ListScope.None, true)]
    [InlineData("POST", "emails/batch", null, ListScope.None, true)] // 'batch' is an action, not an email id
    [InlineData("GET", "emails", null, ListScope.Refuse, false)]
    public void ResendCalls_AreScopedByTheResourceId(string method, string path, string? named, ListScope list, bool creates)
    {
        ObjectScope scope = _resend.Objects(new ProxyCall("resend", method, path.Split('/'), _resend.Operation(method, path.Split('/')), null, default, null), null);

        Assert.Equal((named, list, creates, (string?)null), (scope.Named.SingleOrDefault()?.Id, scope.List, scope.Creates, scope.Refusal));
    }

    [Fact]
    public void AVendorThatDescribesNoObjects_IsRefusedOnASharedAccount() =>
        Assert.NotNull(new SilentVendor().Objects(new ProxyCall("silent", "GET", ["x"], "x.list", null, default, null), null).Refusal);

    [Theory]
    [InlineData("""{"id":"x","latest_charge":"ch_1"}""", "ch_1")]
    [InlineData("""{"id":"x","latest_charge":{"id":"ch_2","object":"charge"}}""", "ch_2")]
    [InlineData("""{"id":"x","latest_charge":null}""", null)]
    [InlineData("""{"id":"x"}""", null)]
    [InlineData("""[1]""", null)]
    public void AnExpandableReference_IsTheIdOrTheExpandedObjectsId(string json, string? id)
    {
        using JsonDocument document = JsonDocument.Parse(json);

        Assert.Equal(id, OwnershipJson.Reference(document.RootElement, "latest_charge"));
    }

    [Fact]
    public void TheOwnershipCache_KeepsFirstOwnersPerVendor_AndStaysBounded()
    {
        var cache = new ObjectOwnershipCache(capacity: 2);
        cache.Set("stripe", "cus_1", "acme");
        cache.Set("stripe", "cus_1", "other"); // an object's owner never changes

        Assert.Equal("acme", cache.Get("stripe", "cus_1"));
        Assert.Null(cache.Get("resend", "cus_1")); // ids are per vendor

        cache.Set("stripe", "cus_2", "acme");
        cache.Set("stripe", "cus_3", "acme"); // over capacity: forgets, which only costs a read
        Assert.Equal("acme", cache.Get("stripe", "cus_3"));
        Assert.Null(cache.Get("stripe", "cus_1"));
    }

    /// <summary>A vendor that overrides nothing about objects: the base definition must fail closed.</summary>
    private sealed class SilentVendor : VendorDefinition
    {
        public override string Name => "silent";

        public override Uri DefaultBaseUrl { get; } = new("https://silent.invalid/");

        public override IReadOnlyList<string> SecretNames => [];

        public override IReadOnlySet<string> ForwardedRequestHeaders { get; } = WithCommon();

        public override string? ReadVaultKey(string? authorization) => Bearer(authorization);

        public override UpstreamAuthorization Authorize(IReadOnlyDictionary<string, string> secrets, IReadOnlyList<string> segments) => new(string.Empty, segments);

        public override string Operation(string method, IReadOnlyList<string> segments) => "x";

        public override CostEstimate Estimate(ProxyCall call) => CostEstimate.Unbounded;

        public override bool CostNeedsResponseBody(ProxyCall call) => false;

        protected override CallCost SettleFromResponse(ProxyCall call, CostEstimate estimate, JsonElement root) => CallCost.Nothing;

        public override VendorErrorBody Error(int status, string code, string message) => new("text/plain", message);
    }
}
