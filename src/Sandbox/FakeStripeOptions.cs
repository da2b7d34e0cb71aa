namespace Keybrake.Sandbox;

/// <summary>Options of <see cref="FakeStripe"/>; the mutable ones can be changed while it runs.</summary>
public sealed class FakeStripeOptions : FakeVendorOptions
{
    private bool _asyncCapture;
    private decimal _feeRate = 0.029m;
    private long _feeFixedMinor = 30;

    /// <summary>The secret key the fake accepts; default "sk_test_fake_" + 24 random characters.</summary>
    public string? SecretKey { get; init; }

    /// <summary>
    /// When true, a confirmed PaymentIntent's create response carries
    /// <c>latest_charge.balance_transaction: null</c> (Stripe's async capture); the balance
    /// transaction shows up on a later GET. Default false: expanded right away.
    /// </summary>
    public bool AsyncCapture
    {
        get { lock (Gate) { return _asyncCapture; } }
        set { lock (Gate) { _asyncCapture = value; } }
    }

    /// <summary>Proportional processing fee (default 0.029 = 2.9%).</summary>
    public decimal FeeRate
    {
        get { lock (Gate) { return _feeRate; } }
        set { lock (Gate) { _feeRate = value; } }
    }

    /// <summary>Fixed processing fee in minor units of the charge currency (default 30).</summary>
    public long FeeFixedMinor
    {
        get { lock (Gate) { return _feeFixedMinor; } }
        set { lock (Gate) { _feeFixedMinor = value; } }
    }

    /// <summary>Fee in minor units: round(amount × <see cref="FeeRate"/>, half away from zero) + <see cref="FeeFixedMinor"/>.</summary>
    public long FeeFor(long amountMinor)
    {
        decimal rate;
        long fixedMinor;
        lock (Gate)
        {
            rate = _feeRate;
            fixedMinor = _feeFixedMinor;
        }

        return (long)decimal.Round(amountMinor * rate, 0, MidpointRounding.AwayFromZero) + fixedMinor;
    }
}
