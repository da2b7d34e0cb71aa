namespace Keybrake.Sandbox;

/// <summary>
/// Test-control knobs shared by every fake vendor. All properties are thread-safe and may be
/// changed while the fake is running; each request reads them once when it arrives.
/// </summary>
public abstract class FakeVendorOptions
{
    private readonly Lock _gate = new();
    private TimeSpan _responseDelay;
    private int? _failWithStatus;
    private bool _closeConnectionWithoutResponse;
    private int _failuresLeft;
    private int _failuresStatus = 500;
    private TimeProvider _clock = TimeProvider.System;

    /// <summary>
    /// TCP port to listen on (127.0.0.1). 0, the default, picks a free port. Read once at start.
    /// </summary>
    public int Port { get; init; }

    /// <summary>
    /// Delay applied after the request is processed and before the response is written. If the
    /// client goes away during the delay the response is dropped (the request was still
    /// processed: an object created, an idempotency key consumed), like a lost response.
    /// </summary>
    public TimeSpan ResponseDelay
    {
        get { lock (_gate) { return _responseDelay; } }
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
            lock (_gate) { _responseDelay = value; }
        }
    }

    /// <summary>
    /// When set, every authenticated request is answered with this status in the vendor's own
    /// error shape (e.g. 500 api_error, 429 rate limit, 503) without being processed.
    /// Authentication is still checked first.
    /// </summary>
    public int? FailWithStatus
    {
        get { lock (_gate) { return _failWithStatus; } }
        set
        {
            if (value is < 100 or > 599)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "Not an HTTP status code.");
            }

            lock (_gate) { _failWithStatus = value; }
        }
    }

    /// <summary>
    /// When true, each request is read and processed normally (objects are created, the ledger
    /// records it with <see cref="LedgerEntry.Aborted"/> = true) and then the connection is
    /// aborted instead of sending the response: "the vendor did it but the answer was lost".
    /// </summary>
    public bool CloseConnectionWithoutResponse
    {
        get { lock (_gate) { return _closeConnectionWithoutResponse; } }
        set { lock (_gate) { _closeConnectionWithoutResponse = value; } }
    }

    /// <summary>
    /// The fake's notion of "now" (received-at times, created timestamps, Stripe's meter-event timestamp
    /// window). Tests whose Keybrake host runs on a fake clock point this at the same clock.
    /// </summary>
    public TimeProvider Clock
    {
        get { lock (_gate) { return _clock; } }
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            lock (_gate) { _clock = value; }
        }
    }

    /// <summary>
    /// Answers the next <paramref name="count"/> authenticated requests with <paramref name="status"/> in
    /// the vendor's error shape, without processing them; then the fake recovers by itself.
    /// <see cref="FailWithStatus"/>, when set, wins.
    /// </summary>
    public void FailNextRequests(int count, int status = 500)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (status is < 100 or > 599)
        {
            throw new ArgumentOutOfRangeException(nameof(status), status, "Not an HTTP status code.");
        }

        lock (_gate)
        {
            _failuresLeft = count;
            _failuresStatus = status;
        }
    }

    /// <summary>The status to fail this request with, consuming one of <see cref="FailNextRequests"/>, or null.</summary>
    internal int? TakeInjectedFailure()
    {
        lock (_gate)
        {
            if (_failWithStatus is int always)
            {
                return always;
            }

            if (_failuresLeft == 0)
            {
                return null;
            }

            _failuresLeft--;
            return _failuresStatus;
        }
    }

    /// <summary>Guards the mutable settings of derived option classes.</summary>
    protected Lock Gate => _gate;
}
