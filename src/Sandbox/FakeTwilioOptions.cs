namespace Keybrake.Sandbox;

/// <summary>Options of <see cref="FakeTwilio"/>; the mutable ones can be changed while it runs.</summary>
public sealed class FakeTwilioOptions : FakeVendorOptions
{
    private decimal _pricePerSegmentUsd = 0.0083m;
    private decimal _failedMessagePriceUsd = 0.001m;
    private bool _settleImmediately;
    private decimal _pricePerMediaMessageUsd = 0.0200m;

    /// <summary>The account SID the fake accepts; default "AC" + 32 random hex digits.</summary>
    public string? AccountSid { get; init; }

    /// <summary>The auth token the fake accepts; default 32 random hex digits.</summary>
    public string? AuthToken { get; init; }

    /// <summary>Settled price per segment in USD (default 0.0083).</summary>
    public decimal PricePerSegmentUsd
    {
        get { lock (Gate) { return _pricePerSegmentUsd; } }
        set { lock (Gate) { _pricePerSegmentUsd = value; } }
    }

    /// <summary>Settled price of a media (MMS) message in USD on top of its text's segments (default 0.0200).</summary>
    public decimal PricePerMediaMessageUsd
    {
        get { lock (Gate) { return _pricePerMediaMessageUsd; } }
        set { lock (Gate) { _pricePerMediaMessageUsd = value; } }
    }

    /// <summary>Settled price of a failed message in USD (default 0.001).</summary>
    public decimal FailedMessagePriceUsd
    {
        get { lock (Gate) { return _failedMessagePriceUsd; } }
        set { lock (Gate) { _failedMessagePriceUsd = value; } }
    }

    /// <summary>
    /// When true, each message settles (delivered, price set) right after it is created, so the
    /// first GET already shows the price. The 201 create response never carries a price, as on
    /// the real API. Default false: prices stay null until <see cref="FakeTwilio.SettleAll"/>.
    /// </summary>
    public bool SettleImmediately
    {
        get { lock (Gate) { return _settleImmediately; } }
        set { lock (Gate) { _settleImmediately = value; } }
    }
}
