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

    /// <summary>Guards the mutable settings of derived option classes.</summary>
    protected Lock Gate => _gate;
}
