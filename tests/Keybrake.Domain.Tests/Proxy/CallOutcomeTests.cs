using System.Text;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Caps;
using Keybrake.Domain.Common;
using Keybrake.Domain.Pricing;
using Keybrake.Domain.Proxy;
using Keybrake.Domain.Tests.Vendors;
using Keybrake.Domain.Vendors;

namespace Keybrake.Domain.Tests.Proxy;

/// <summary>
/// The pure end of a proxied call (<see cref="CallOutcome"/>): the audit outcome, the cost and the settlement of the
/// reservation from the vendor's status and answer, or from its failure to answer. No host, no storage.
/// </summary>
public sealed class CallOutcomeTests
{
    // docs/vendors.md: POST /v1/payment_intents (confirm=true, expanded), 200: $20.00 charged, fee $0.88.
    private const string ConfirmedIntent = """
        {"id":"pi_1","object":"payment_intent","amount":2000,"amount_received":2000,"currency":"usd","status":"succeeded",
         "latest_charge":{"id":"ch_1","object":"charge","amount":2000,"currency":"usd","paid":true,"status":"succeeded",
           "balance_transaction":{"id":"txn_1","object":"balance_transaction","amount":2000,"currency":"usd","fee":88,"net":1912,"type":"charge"}}}
        """;

    private static readonly DateTimeOffset Now = new(2026, 11, 3, 10, 0, 0, TimeSpan.Zero);

    private readonly StripeVendor _stripe = new(new Currencies(TestPricing.Options()));
    private readonly ProxyCall _create = new("stripe", "POST", ["v1", "payment_intents"], "payment_intents.create", "application/x-www-form-urlencoded",
        Encoding.ASCII.GetBytes("amount=2000&currency=usd&confirm=true"), "idem-1");

    private readonly ProxyCall _read = new("stripe", "GET", ["v1", "balance"], "balance.retrieve", null, ReadOnlyMemory<byte>.Empty, null);

    [Fact]
    public void Answered2xx_CostFromTheAnswer_HeldInFull_MarkerKept()
    {
        CostEstimate estimate = _stripe.Estimate(_create);
        Admission admission = Admission.Reserved(Intent(estimate), Reserve(estimate.CostMicros));

        SettledCall settled = CallOutcome.Answered(_stripe, admission, _create, estimate, 200, Encoding.UTF8.GetBytes(ConfirmedIntent),
            vendorReplayed: false, vendorRequestId: "req_1", upstreamMs: 12, latencyMs: 15);

        Assert.Equal(20_000_000, settled.Row.CostMicros);
        Assert.Equal(880_000, settled.Row.FeeMicros);
        Assert.Equal((AuditOutcome.Forwarded, (string?)null, CostSource.Parsed, 200), (settled.Row.Outcome, settled.Row.Reason, settled.Row.CostSource, settled.Row.Status));
        Assert.Equal(("req_1", 12L, 15L, "pi_1"), (settled.Row.VendorRequestId, settled.Row.UpstreamMs, settled.Row.LatencyMs, settled.Row.VendorObjectId));
        Assert.Equal(20_000_000, settled.HeldMicros);
        Assert.False(settled.ReleaseIdempotencyKey);
        Assert.Null(settled.Row.OvershootMicros);
        Assert.Null(settled.UnparsableCost);
    }

    [Fact]
    public void Answered2xx_CostUnreadable_TheEstimateStands_AndTheErrorIsNamed()
    {
        CostEstimate estimate = _stripe.Estimate(_create);
        Admission admission = Admission.Reserved(Intent(estimate), Reserve(estimate.CostMicros));

        SettledCall settled = CallOutcome.Answered(_stripe, admission, _create, estimate, 200, "{not json"u8, false, null, 1, 1);

        Assert.Equal(("cost_unparsable", CostSource.Estimated, estimate.CostMicros), (settled.Row.Reason, settled.Row.CostSource, settled.Row.CostMicros));
        Assert.Equal(estimate.CostMicros, settled.HeldMicros);
        Assert.NotNull(settled.UnparsableCost);
    }

    [Fact]
    public void Answered5xx_OnAMoneyMovingCall_IsInDoubt_AndHoldsTheReservation()
    {
        CostEstimate estimate = _stripe.Estimate(_create);
        Admission admission = Admission.Reserved(Intent(estimate), Reserve(estimate.CostMicros + 5));

        SettledCall settled = CallOutcome.Answered(_stripe, admission, _create, estimate, 502, [], false, null, 1, 1);

        Assert.Equal((AuditOutcome.InDoubt, "vendor_error", estimate.CostMicros), (settled.Row.Outcome, settled.Row.Reason, settled.Row.CostMicros));
        Assert.Equal(estimate.CostMicros + 5, settled.HeldMicros);
        Assert.False(settled.ReleaseIdempotencyKey);
    }

    [Theory]
    [InlineData(402, true)]
    [InlineData(409, true)]
    [InlineData(500, false)]
    public void AnsweredRefusal_MovesNothing(int status, bool releasesMarker)
    {
        // A 4xx is a definite refusal; a 5xx on a call that moves no money (estimate 0) cannot have moved any.
        CostEstimate estimate = status >= 500 ? CostEstimate.Free : _stripe.Estimate(_create);
        Admission admission = Admission.Reserved(Intent(estimate), Reserve(estimate.CostMicros));

        SettledCall settled = CallOutcome.Answered(_stripe, admission, _create, estimate, status, [], false, null, 1, 1);

        Assert.Equal((AuditOutcome.Forwarded, "vendor_refused", 0L, 0L), (settled.Row.Outcome, settled.Row.Reason, settled.Row.CostMicros, settled.HeldMicros));
        Assert.Equal(releasesMarker, settled.ReleaseIdempotencyKey);
    }

    [Fact]
    public void Replay_KnownToTheProxy_CostsNothing_AndReservedNothing()
    {
        CostEstimate estimate = _stripe.Estimate(_create);
        Admission admission = Admission.Replayed(Intent(estimate));

        Assert.True(admission.IsReplay);
        Assert.Equal(Reservation.None, admission.Reservation);
        Assert.Equal((Admission.ReplayReason, 0L, true), (admission.Intent.Reason, admission.Intent.CostMicros, admission.Intent.Replay));

        SettledCall settled = CallOutcome.Answered(_stripe, admission, _create, estimate, 200, Encoding.UTF8.GetBytes(ConfirmedIntent), false, null, 1, 1);

        Assert.Equal((0L, (long?)null, Admission.ReplayReason, true), (settled.Row.CostMicros, settled.Row.FeeMicros, settled.Row.Reason, settled.Row.Replay));
        Assert.Equal(0, settled.HeldMicros);
    }

    [Fact]
    public void Replay_KnownOnlyToTheVendor_ReleasesTheReservation()
    {
        CostEstimate estimate = _stripe.Estimate(_create);
        Admission admission = Admission.Reserved(Intent(estimate), Reserve(estimate.CostMicros));

        SettledCall settled = CallOutcome.Answered(_stripe, admission, _create, estimate, 200, Encoding.UTF8.GetBytes(ConfirmedIntent), vendorReplayed: true, null, 1, 1);

        Assert.Equal((0L, Admission.ReplayReason, true, 0L), (settled.Row.CostMicros, settled.Row.Reason, settled.Row.Replay, settled.HeldMicros));
    }

    [Fact]
    public void CostAboveTheReservation_CountsInFull_AndTheRowSaysByHowMuch()
    {
        CostEstimate estimate = _stripe.Estimate(_create);
        Admission admission = Admission.Reserved(Intent(estimate), Reserve(15_000_000));

        SettledCall settled = CallOutcome.Answered(_stripe, admission, _create, estimate, 200, Encoding.UTF8.GetBytes(ConfirmedIntent), false, null, 1, 1);

        Assert.Equal(20_000_000, settled.HeldMicros);
        Assert.Equal(5_000_000, settled.OvershootMicros);
        Assert.Equal(5_000_000, settled.Row.OvershootMicros);
    }

    [Fact]
    public void Failed_Timeout_OnAWrite_IsInDoubt_AtTheEstimate_HoldingTheReservation()
    {
        CostEstimate estimate = _stripe.Estimate(_create);
        Admission admission = Admission.Reserved(Intent(estimate), Reserve(estimate.CostMicros + 7));

        SettledCall failed = CallOutcome.Failed(admission, _create, estimate, UpstreamFailure.TimedOut, status: 504, clientGone: false, latencyMs: 30_000);

        Assert.Equal((ErrorKind.UpstreamTimeout, "upstream_timeout"), (CallOutcome.UpstreamError(UpstreamFailure.TimedOut).Kind, CallOutcome.UpstreamError(UpstreamFailure.TimedOut).Code));
        Assert.Equal((504, AuditOutcome.InDoubt, "upstream_timeout", estimate.CostMicros, CostSource.Estimated, 30_000L),
            (failed.Row.Status, failed.Row.Outcome, failed.Row.Reason, failed.Row.CostMicros, failed.Row.CostSource, failed.Row.LatencyMs));
        Assert.Equal(estimate.CostMicros + 7, failed.HeldMicros);
        Assert.False(failed.ReleaseIdempotencyKey);
    }

    [Fact]
    public void Failed_NeverSent_IsAnError_ReleasingEverything()
    {
        CostEstimate estimate = _stripe.Estimate(_create);
        Admission admission = Admission.Reserved(Intent(estimate), Reserve(estimate.CostMicros));

        SettledCall failed = CallOutcome.Failed(admission, _create, estimate, UpstreamFailure.NeverSent, status: 502, clientGone: false, latencyMs: 1);

        Assert.Equal((ErrorKind.UpstreamFailed, "upstream_unreachable"), (CallOutcome.UpstreamError(UpstreamFailure.NeverSent).Kind, CallOutcome.UpstreamError(UpstreamFailure.NeverSent).Code));
        Assert.Equal(("upstream_unreachable", AuditOutcome.Error, 0L, 0L), (failed.Row.Reason, failed.Row.Outcome, failed.Row.CostMicros, failed.HeldMicros));
        Assert.True(failed.ReleaseIdempotencyKey);
    }

    [Fact]
    public void Failed_Broken_OnARead_IsAnError_AndAGoneClientIsNamed()
    {
        Admission admission = Admission.Reserved(Intent(CostEstimate.Free), Reserve(0));

        SettledCall failed = CallOutcome.Failed(admission, _read, CostEstimate.Free, UpstreamFailure.Broken, status: 502, clientGone: true, latencyMs: 1);

        Assert.Equal("upstream_failed", CallOutcome.UpstreamError(UpstreamFailure.Broken).Code);
        Assert.Equal((AuditOutcome.Error, "client_aborted", 0L), (failed.Row.Outcome, failed.Row.Reason, failed.HeldMicros));
    }

    [Fact]
    public void Failed_Replay_CountsNoCost()
    {
        CostEstimate estimate = _stripe.Estimate(_create);
        SettledCall failed = CallOutcome.Failed(Admission.Replayed(Intent(estimate)), _create, estimate, UpstreamFailure.Broken, status: 502, clientGone: false, latencyMs: 1);

        Assert.Equal((AuditOutcome.InDoubt, "upstream_failed", 0L, 0L), (failed.Row.Outcome, failed.Row.Reason, failed.Row.CostMicros, failed.HeldMicros));
    }

    private AuditEntry Intent(CostEstimate estimate) => new()
    {
        Id = AuditEntry.NewId(Now),
        Timestamp = Now,
        Tenant = "acme",
        Label = "acme:agent",
        KeyId = "vk_1",
        Vendor = "stripe",
        Method = _create.Method,
        Path = _create.Path,
        Operation = _create.Operation,
        Outcome = AuditOutcome.InDoubt,
        Reason = "intent",
        CostMicros = estimate.CostMicros,
        CostSource = CostSource.Estimated,
        IdempotencyKey = _create.IdempotencyKey,
    };

    private static Reservation Reserve(long micros) => new(micros, [], null, null);
}

/// <summary>The loop breaker's fingerprint: stable across releases (rows of the current window carry it), form fields in any order.</summary>
public sealed class LoopFingerprintTests
{
    [Theory]
    [InlineData("application/x-www-form-urlencoded", "amount=100&currency=usd&metadata%5Border%5D=o%2B1+x")]
    [InlineData("application/x-www-form-urlencoded; charset=utf-8", "b=2&a=1&a=3&c")]
    [InlineData("application/json", """{"to":["a@example.com"],"subject":"héllo"}""")]
    [InlineData(null, "")]
    public void Fingerprint_IsTheHashOfMethodPathQueryAndCanonicalBody(string? contentType, string body)
    {
        var call = new ProxyCall("stripe", "POST", ["v1", "payment_intents"], "payment_intents.create", contentType, System.Text.Encoding.UTF8.GetBytes(body), null, "?expand[]=x");

        // The definition written out plainly: what the rows in storage were keyed by before it was hashed piece by piece.
        string canonical = contentType?.StartsWith("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase) == true
            ? string.Join('&', Keybrake.Domain.Vendors.FormBody.Parse(call.Body.Span).OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + "=" + p.Value))
            : Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(call.Body.Span));
        string expected = Keybrake.Domain.Common.RandomTokens.Sha256Hex(call.Method + " " + call.Path + call.Query + "\n" + canonical)[..40];

        Assert.Equal(expected, LoopFingerprint.Of(call));
    }

    [Fact]
    public void FormFields_InAnotherOrder_AreTheSameCall_OtherValuesAreNot()
    {
        ProxyCall Form(string body) => new("stripe", "POST", ["v1", "charges"], "charges.create", "application/x-www-form-urlencoded", System.Text.Encoding.ASCII.GetBytes(body), null);

        Assert.Equal(LoopFingerprint.Of(Form("a=1&b=2")), LoopFingerprint.Of(Form("b=2&a=1")));
        Assert.NotEqual(LoopFingerprint.Of(Form("a=1&b=2")), LoopFingerprint.Of(Form("a=1&b=3")));
    }
}
