using System.Globalization;
using System.Text.Json.Nodes;

namespace Keybrake.Sandbox;

/// <summary>
/// Fake Stripe API (v1, form-encoded requests, JSON responses). Implements payment intents
/// (create with confirm/expand, retrieve, list, confirm), refunds, charges, payouts, transfers,
/// billing meter events, balance transactions and customer reads, with Stripe's idempotency
/// semantics and error shapes. Every response carries a <c>Request-Id: req_...</c> header.
/// </summary>
public sealed class FakeStripe : FakeVendor
{
    private static readonly Dictionary<string, string> DeclineCodes = new(StringComparer.Ordinal)
    {
        ["pm_card_chargeDeclined"] = "generic_decline",
        ["pm_card_visa_chargeDeclined"] = "generic_decline",
        ["pm_card_chargeDeclinedInsufficientFunds"] = "insufficient_funds",
        ["pm_card_visa_chargeDeclinedInsufficientFunds"] = "insufficient_funds",
        ["tok_chargeDeclined"] = "generic_decline",
        ["tok_chargeDeclinedInsufficientFunds"] = "insufficient_funds",
    };

    private readonly Lock _state = new();
    private readonly Dictionary<string, StripePaymentIntent> _paymentIntents = new(StringComparer.Ordinal);
    private readonly List<StripePaymentIntent> _paymentIntentOrder = [];
    private readonly Dictionary<string, StripeCharge> _charges = new(StringComparer.Ordinal);
    private readonly Dictionary<string, StripeBalanceTransaction> _balanceTransactions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, JsonObject> _refunds = new(StringComparer.Ordinal);
    private readonly Dictionary<string, JsonObject> _customers = new(StringComparer.Ordinal);
    private readonly List<string> _customerOrder = [];
    private readonly List<StripeMeterEvent> _meterEvents = [];
    private readonly Dictionary<string, StripeIdempotencySlot> _idempotency = new(StringComparer.Ordinal);
    private readonly Dictionary<string, JsonObject> _invoices = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (long UnitAmount, string Currency)> _prices = new(StringComparer.Ordinal);

    private FakeStripe(FakeStripeOptions options)
        : base(options)
    {
        Options = options;
        SecretKey = options.SecretKey ?? "sk_test_fake_" + FakeIds.Alnum(24);
    }

    public override string Vendor => "stripe";

    /// <summary>The secret key the fake accepts as <c>Authorization: Bearer ...</c>.</summary>
    public string SecretKey { get; }

    public FakeStripeOptions Options { get; }

    /// <summary>Billing Meter events accepted so far (snapshot).</summary>
    public IReadOnlyList<StripeMeterEvent> MeterEvents
    {
        get
        {
            lock (_state)
            {
                return _meterEvents.ToArray();
            }
        }
    }

    /// <summary>Seeds an open invoice of <paramref name="amountDue"/> (minor units) that <c>POST /v1/invoices/{id}/pay</c> charges.</summary>
    public string AddInvoice(long amountDue, string currency)
    {
        var id = FakeIds.Stripe("in_");
        lock (_state)
        {
            _invoices[id] = new JsonObject
            {
                ["id"] = id,
                ["object"] = "invoice",
                ["amount_due"] = amountDue,
                ["amount_paid"] = 0L,
                ["amount_remaining"] = amountDue,
                ["currency"] = currency,
                ["status"] = "open",
                ["livemode"] = false,
            };
        }

        return id;
    }

    /// <summary>Seeds a recurring price a subscription item can name (<c>items[0][price]</c>).</summary>
    public string AddPrice(long unitAmount, string currency)
    {
        var id = FakeIds.Stripe("price_");
        lock (_state)
        {
            _prices[id] = (unitAmount, currency);
        }

        return id;
    }

    private protected override bool ReadsJsonBodyAsParameters => true;

    public static Task<FakeStripe> StartAsync(FakeStripeOptions? options = null, CancellationToken cancellationToken = default) =>
        StartAsync(new FakeStripe(options ?? new FakeStripeOptions()), cancellationToken);

    /// <summary>Masks a key the way Stripe does in its errors: prefix, asterisks, last four.</summary>
    public static string MaskKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length < 12)
        {
            return new string('*', key.Length);
        }

        var prefix = Math.Min(8, key.Length / 3);
        return key[..prefix] + new string('*', key.Length - prefix - 4) + key[^4..];
    }

    private protected override VendorResponse? Authenticate(FakeRequest request)
    {
        var header = request.Header("Authorization");
        if (string.IsNullOrWhiteSpace(header))
        {
            return Error(401, "invalid_request_error",
                "You did not provide an API key. You need to provide your API key in the Authorization header, " +
                "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication " +
                "for details, or we can help at https://support.stripe.com/.");
        }

        const string bearer = "Bearer ";
        var presented = header.StartsWith(bearer, StringComparison.OrdinalIgnoreCase) ? header[bearer.Length..].Trim() : null;
        if (presented is null)
        {
            return Error(401, "invalid_request_error",
                "Invalid authorization header. Use Bearer auth: 'Authorization: Bearer YOUR_SECRET_KEY'.");
        }

        if (!string.Equals(presented, SecretKey, StringComparison.Ordinal))
        {
            return Error(401, "invalid_request_error", "Invalid API Key provided: " + MaskKey(presented));
        }

        return null;
    }

    private protected override VendorResponse InjectedFailure(int status) => status switch
    {
        402 => Error(402, "card_error", "Your card was declined.", code: "card_declined", declineCode: "generic_decline"),
        404 => Error(404, "invalid_request_error", "No such object.", code: "resource_missing"),
        409 => Error(409, "invalid_request_error",
            "This object cannot be accessed right now because another API request or Stripe process is currently accessing it.",
            code: "lock_timeout"),
        429 => Error(429, "invalid_request_error", "Request rate limit exceeded", code: "rate_limit"),
        >= 500 => Error(status, "api_error", "An unknown error occurred"),
        _ => Error(status, "invalid_request_error", $"Injected failure (HTTP {status})."),
    };

    private protected override void Decorate(VendorResponse response)
    {
        if (!response.HasHeader("Request-Id"))
        {
            response.WithHeader("Request-Id", FakeIds.StripeRequestId());
        }
    }

    private protected override Task<VendorResponse> HandleAsync(FakeRequest request, CancellationToken cancellationToken)
    {
        lock (_state)
        {
            var key = request.Header("Idempotency-Key");
            var response = request.IsPost && !string.IsNullOrEmpty(key)
                ? WithIdempotency(key, request)
                : Route(request);
            return Task.FromResult(response);
        }
    }

    private VendorResponse WithIdempotency(string key, FakeRequest request)
    {
        var fingerprint = request.Method + " " + request.Path + "\n" + request.CanonicalParameters();
        if (_idempotency.TryGetValue(key, out var slot))
        {
            if (!string.Equals(slot.Fingerprint, fingerprint, StringComparison.Ordinal))
            {
                return Error(400, "idempotency_error",
                    $"Keys for idempotent requests can only be used with the same parameters they were first used with. " +
                    $"Try using a key other than '{key}' if you meant to execute a different request.");
            }

            if (slot.Stored is not { } stored)
            {
                return Error(409, "idempotency_error",
                    "There is currently another in-progress request using this Idempotent Key (that probably means you " +
                    $"submitted twice, and the other request is still going through): {key}. Please try again later.",
                    code: "idempotency_key_in_use");
            }

            var replay = new VendorResponse(stored.Status, stored.Body, stored.ContentType)
            {
                Replayed = true,
                ObjectId = stored.ObjectId,
                AmountMinor = stored.AmountMinor,
                Currency = stored.Currency,
            };
            replay.WithHeader("Idempotent-Replayed", "true");
            if (slot.RequestId is not null)
            {
                replay.WithHeader("Original-Request", slot.RequestId);
            }

            return replay;
        }

        var fresh = new StripeIdempotencySlot(fingerprint);
        _idempotency[key] = fresh;
        var response = Route(request);
        var requestId = FakeIds.StripeRequestId();
        response.WithHeader("Request-Id", requestId);
        response.WithHeader("Idempotency-Key", key);

        // Stripe saves a result once the endpoint started executing: successes, card errors and
        // server errors; not validation failures, missing objects or rate limits.
        var stores = response.Status < 400 || response.Status == 402 || response.Status >= 500;
        response.Completed = stores
            ? () =>
            {
                lock (_state)
                {
                    fresh.RequestId = requestId;
                    fresh.Stored = response;
                }
            }
            : () =>
            {
                lock (_state)
                {
                    _idempotency.Remove(key);
                }
            };
        return response;
    }

    private VendorResponse Route(FakeRequest request)
    {
        var segments = request.Path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var post = request.IsPost;
        var get = request.IsGet;
        return segments switch
        {
            ["v1", "payment_intents"] when post => CreatePaymentIntent(request),
            ["v1", "payment_intents"] when get => ListPaymentIntents(request),
            ["v1", "payment_intents", "search"] when get => SearchPaymentIntents(request),
            ["v1", "payment_intents", var id] when get => RetrievePaymentIntent(request, id),
            ["v1", "payment_intents", var id, "confirm"] when post => ConfirmExisting(request, id),
            ["v1", "payment_intents", var id] when post => UpdatePaymentIntent(request, id),
            ["v1", "payment_intents", var id, "cancel"] when post => CancelPaymentIntent(id),
            ["v1", "payment_intents", var id, "capture"] when post => CapturePaymentIntent(request, id),
            ["v1", "customers"] when post => CreateCustomer(request),
            ["v1", "customers"] when get => ListCustomers(request),
            ["v1", "refunds"] when post => CreateRefund(request),
            ["v1", "refunds", var id] when get => RetrieveRefund(id),
            ["v1", "charges"] when post => CreateCharge(request),
            ["v1", "charges", var id] when get => RetrieveCharge(request, id),
            ["v1", "balance_transactions", var id] when get => RetrieveBalanceTransaction(id),
            ["v1", "payouts"] when post => CreateSimpleMoneyObject(request, "payout", "po_"),
            ["v1", "transfers"] when post => CreateSimpleMoneyObject(request, "transfer", "tr_"),
            ["v1", "billing", "meter_events"] when post => CreateMeterEvent(request),
            ["v1", "customers", var id] when get => _customers.TryGetValue(id, out var customer) ? Ok(customer.DeepClone(), id) : RetrieveCustomer(id),
            ["v1", "invoices", var id] when get => _invoices.TryGetValue(id, out var invoice) ? Ok(invoice.DeepClone(), id) : NoSuch("invoice", id, "invoice"),
            ["v1", "invoices", var id, "pay"] when post => PayInvoice(id),
            ["v1", "subscriptions"] when post => CreateSubscription(request),
            _ => Error(404, "invalid_request_error",
                $"Unrecognized request URL ({request.Method}: {request.Path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."),
        };
    }

    private VendorResponse CreatePaymentIntent(FakeRequest request)
    {
        var (amount, currency, invalid) = ReadAmountAndCurrency(request);
        if (invalid is not null)
        {
            return invalid;
        }

        var paymentMethod = request.Param("payment_method");
        var pi = new StripePaymentIntent
        {
            Id = FakeIds.Stripe("pi_"),
            Amount = amount,
            Currency = currency,
            Created = request.ReceivedAt.ToUnixTimeSeconds(),
            CaptureMethod = request.Param("capture_method") ?? "automatic_async",
            Metadata = request.HashParam("metadata"),
            Customer = request.Param("customer"),
            Description = request.Param("description"),
            PaymentMethod = paymentMethod,
            Status = paymentMethod is null ? "requires_payment_method" : "requires_confirmation",
        };
        _paymentIntents[pi.Id] = pi;
        _paymentIntentOrder.Add(pi);

        if (IsTrue(request.Param("confirm")))
        {
            return Confirm(pi, paymentMethod ?? "pm_card_visa", request);
        }

        return Ok(RenderPaymentIntent(pi, request.ListParam("expand"), hideBalanceTransaction: false), pi.Id, amount, currency);
    }

    /// <summary>Charges what remains on an open invoice, in full: Stripe's <c>pay</c> with the default payment method.</summary>
    private VendorResponse PayInvoice(string id)
    {
        if (!_invoices.TryGetValue(id, out var invoice))
        {
            return NoSuch("invoice", id, "invoice");
        }

        var remaining = (long)invoice["amount_remaining"]!;
        if ((string?)invoice["status"] != "open" || remaining <= 0)
        {
            return Error(400, "invalid_request_error", "Invoice is already paid.", code: "invoice_not_open");
        }

        invoice["amount_paid"] = (long)invoice["amount_paid"]! + remaining;
        invoice["amount_remaining"] = 0L;
        invoice["status"] = "paid";
        return Ok(invoice.DeepClone(), id, remaining, (string)invoice["currency"]!);
    }

    /// <summary>
    /// Creates an active subscription and charges its first invoice at once: Σ unit amount × quantity over
    /// <c>items[N][price]</c> / <c>items[N][quantity]</c>. <c>latest_invoice</c> is the invoice id unless expanded.
    /// </summary>
    private VendorResponse CreateSubscription(FakeRequest request)
    {
        var items = new SortedDictionary<string, (string? Price, string? Quantity)>(StringComparer.Ordinal);
        foreach (var (key, value) in request.Parameters)
        {
            if (key.StartsWith("items[", StringComparison.Ordinal) && key.IndexOf("][", StringComparison.Ordinal) is var split and > 6 && key.EndsWith(']'))
            {
                var index = key[6..split];
                var field = key[(split + 2)..^1];
                items.TryGetValue(index, out var item);
                items[index] = field switch
                {
                    "price" => (value, item.Quantity),
                    "quantity" => (item.Price, value),
                    _ => item,
                };
            }
        }

        if (items.Count == 0)
        {
            return MissingParam("items");
        }

        long total = 0;
        string? currency = null;
        foreach (var (price, quantityText) in items.Values)
        {
            if (price is null || !_prices.TryGetValue(price, out var known))
            {
                return NoSuch("price", price ?? string.Empty, "items[0][price]");
            }

            long quantity = 1;
            if (quantityText is not null && (!long.TryParse(quantityText.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out quantity) || quantity < 1 || quantity > 10_000))
            {
                return Error(400, "invalid_request_error", $"Invalid integer: {quantityText}", code: "parameter_invalid_integer", param: "quantity");
            }

            currency ??= known.Currency;
            total += known.UnitAmount * quantity;
        }

        var invoiceId = FakeIds.Stripe("in_");
        var invoice = new JsonObject
        {
            ["id"] = invoiceId,
            ["object"] = "invoice",
            ["amount_due"] = total,
            ["amount_paid"] = total,
            ["amount_remaining"] = 0,
            ["currency"] = currency,
            ["status"] = "paid",
            ["livemode"] = false,
        };
        _invoices[invoiceId] = invoice;
        var subscriptionId = FakeIds.Stripe("sub_");
        var body = new JsonObject
        {
            ["id"] = subscriptionId,
            ["object"] = "subscription",
            ["status"] = "active",
            ["currency"] = currency,
            ["latest_invoice"] = Expands(request.ListParam("expand"), "latest_invoice") ? invoice.DeepClone() : invoiceId,
            ["livemode"] = false,
        };
        return Ok(body, subscriptionId, total, currency);
    }

    private VendorResponse ConfirmExisting(FakeRequest request, string id)
    {
        if (!_paymentIntents.TryGetValue(id, out var pi))
        {
            return NoSuch("payment_intent", id, "intent");
        }

        if (pi.Status is "succeeded" or "canceled")
        {
            return Error(400, "invalid_request_error",
                $"This PaymentIntent's status is {pi.Status}, so it cannot be confirmed.",
                code: "payment_intent_unexpected_state");
        }

        return Confirm(pi, request.Param("payment_method") ?? pi.PaymentMethod ?? "pm_card_visa", request);
    }

    private VendorResponse Confirm(StripePaymentIntent pi, string paymentMethod, FakeRequest request)
    {
        var now = request.ReceivedAt.ToUnixTimeSeconds();
        var charge = new StripeCharge
        {
            Id = FakeIds.Stripe("ch_"),
            Amount = pi.Amount,
            Currency = pi.Currency,
            Created = now,
            Metadata = pi.Metadata,
            PaymentIntentId = pi.Id,
            PaymentMethod = paymentMethod,
        };
        _charges[charge.Id] = charge;
        pi.PaymentMethod = paymentMethod;
        pi.LatestChargeId = charge.Id;

        if (DeclineCodes.TryGetValue(paymentMethod, out var declineCode))
        {
            charge.Status = "failed";
            charge.FailureCode = "card_declined";
            charge.FailureMessage = "Your card was declined.";
            var lastError = new JsonObject
            {
                ["charge"] = charge.Id,
                ["code"] = "card_declined",
                ["decline_code"] = declineCode,
                ["doc_url"] = "https://stripe.com/docs/error-codes/card-declined",
                ["message"] = "Your card was declined.",
                ["type"] = "card_error",
            };
            pi.Status = "requires_payment_method";
            pi.LastPaymentError = lastError;
            var error = (JsonObject)lastError.DeepClone();
            error["payment_intent"] = RenderPaymentIntent(pi, [], hideBalanceTransaction: false);
            error["payment_method"] = new JsonObject { ["id"] = paymentMethod, ["object"] = "payment_method", ["type"] = "card" };
            return new VendorResponse(402, VendorResponse.Serialize(new JsonObject { ["error"] = error }))
            {
                ObjectId = pi.Id,
                AmountMinor = pi.Amount,
                Currency = pi.Currency,
            };
        }

        var txn = NewBalanceTransaction(charge.Amount, charge.Currency, Options.FeeFor(charge.Amount), "charge", charge.Id, now);
        charge.BalanceTransactionId = txn.Id;
        charge.Status = "succeeded";
        charge.Paid = true;
        pi.Status = "succeeded";
        pi.AmountReceived = pi.Amount;
        pi.LastPaymentError = null;

        var body = RenderPaymentIntent(pi, request.ListParam("expand"), hideBalanceTransaction: Options.AsyncCapture);
        return Ok(body, pi.Id, pi.Amount, pi.Currency);
    }

    private VendorResponse RetrievePaymentIntent(FakeRequest request, string id) =>
        _paymentIntents.TryGetValue(id, out var pi)
            ? Ok(RenderPaymentIntent(pi, request.ListParam("expand"), hideBalanceTransaction: false), pi.Id)
            : NoSuch("payment_intent", id, "intent");

    /// <summary>The Search API, for the one query shape the proxy's reconciler sends: <c>metadata['k']:'v'</c>.</summary>
    private VendorResponse SearchPaymentIntents(FakeRequest request)
    {
        var match = System.Text.RegularExpressions.Regex.Match(request.Param("query") ?? string.Empty, @"^metadata\['([^']+)'\]:'([^']*)'$");
        if (!match.Success)
        {
            return Error(400, "invalid_request_error", "This fake supports only queries of the form metadata['key']:'value'.", param: "query");
        }

        var data = new JsonArray();
        foreach (var pi in Enumerable.Reverse(_paymentIntentOrder).Where(p =>
                     p.Metadata.TryGetValue(match.Groups[1].Value, out var value) && value == match.Groups[2].Value))
        {
            data.Add(RenderPaymentIntent(pi, [], hideBalanceTransaction: false));
        }

        return Ok(new JsonObject { ["object"] = "search_result", ["data"] = data, ["has_more"] = false, ["url"] = "/v1/payment_intents/search" });
    }

    private VendorResponse ListPaymentIntents(FakeRequest request)
    {
        if (ListLimit(request, out int limit) is { } invalid)
        {
            return invalid;
        }

        IEnumerable<StripePaymentIntent> newestFirst = Enumerable.Reverse(_paymentIntentOrder);
        if (request.Param("starting_after") is { } after)
        {
            newestFirst = newestFirst.SkipWhile(p => p.Id != after).Skip(1);
        }

        var expand = request.ListParam("expand")
            .Where(e => e.StartsWith("data.", StringComparison.Ordinal))
            .Select(e => e["data.".Length..])
            .ToList();
        var page = newestFirst.Take(limit + 1).ToList();
        var data = new JsonArray();
        foreach (var pi in page.Take(limit))
        {
            data.Add(RenderPaymentIntent(pi, expand, hideBalanceTransaction: false));
        }

        return Ok(new JsonObject
        {
            ["object"] = "list",
            ["data"] = data,
            ["has_more"] = page.Count > limit,
            ["url"] = "/v1/payment_intents",
        });
    }

    private VendorResponse CreateRefund(FakeRequest request)
    {
        var piId = request.Param("payment_intent");
        var chargeId = request.Param("charge");
        StripeCharge? charge;
        if (piId is not null)
        {
            if (!_paymentIntents.TryGetValue(piId, out var pi))
            {
                return NoSuch("payment_intent", piId, "payment_intent");
            }

            if (pi.Status != "succeeded" || pi.LatestChargeId is null || !_charges.TryGetValue(pi.LatestChargeId, out charge))
            {
                return Error(400, "invalid_request_error",
                    $"This PaymentIntent ({piId}) does not have a successful charge to refund.",
                    code: "charge_not_refundable", param: "payment_intent");
            }
        }
        else if (chargeId is not null)
        {
            if (!_charges.TryGetValue(chargeId, out charge))
            {
                return NoSuch("charge", chargeId, "charge");
            }
        }
        else
        {
            return Error(400, "invalid_request_error",
                "One of the following params should be provided for this request: payment_intent or charge.",
                code: "parameter_missing");
        }

        if (!charge.Paid)
        {
            return Error(400, "invalid_request_error", $"Charge {charge.Id} has not succeeded and cannot be refunded.",
                code: "charge_not_refundable");
        }

        var remaining = charge.Amount - charge.AmountRefunded;
        if (remaining <= 0)
        {
            return Error(400, "invalid_request_error", $"Charge {charge.Id} has already been refunded.",
                code: "charge_already_refunded");
        }

        var amount = remaining;
        if (request.Param("amount") is { } amountText)
        {
            if (!long.TryParse(amountText, NumberStyles.None, CultureInfo.InvariantCulture, out amount) || amount <= 0)
            {
                return Error(400, "invalid_request_error", $"Invalid positive integer: {amountText}",
                    code: "parameter_invalid_integer", param: "amount");
            }

            if (amount > remaining)
            {
                return Error(400, "invalid_request_error",
                    $"Refund amount ({amount} {charge.Currency}) is greater than unrefunded amount on charge ({remaining} {charge.Currency})",
                    code: "amount_too_large", param: "amount");
            }
        }

        var now = request.ReceivedAt.ToUnixTimeSeconds();
        var txn = NewBalanceTransaction(-amount, charge.Currency, 0, "refund", "re_pending", now);
        charge.AmountRefunded += amount;
        var refund = new JsonObject
        {
            ["id"] = FakeIds.Stripe("re_"),
            ["object"] = "refund",
            ["amount"] = amount,
            ["balance_transaction"] = txn.Id,
            ["charge"] = charge.Id,
            ["created"] = now,
            ["currency"] = charge.Currency,
            ["metadata"] = ToJson(request.HashParam("metadata")),
            ["payment_intent"] = charge.PaymentIntentId,
            ["reason"] = request.Param("reason"),
            ["status"] = "succeeded",
        };
        var id = (string)refund["id"]!;
        _refunds[id] = refund;
        return Ok(refund, id, amount, charge.Currency);
    }

    private VendorResponse RetrieveRefund(string id) =>
        _refunds.TryGetValue(id, out var refund) ? Ok(refund.DeepClone(), id) : NoSuch("refund", id, "id");

    private VendorResponse CreateCharge(FakeRequest request)
    {
        var (amount, currency, invalid) = ReadAmountAndCurrency(request);
        if (invalid is not null)
        {
            return invalid;
        }

        var now = request.ReceivedAt.ToUnixTimeSeconds();
        var source = request.Param("source") ?? request.Param("payment_method");
        var charge = new StripeCharge
        {
            Id = FakeIds.Stripe("ch_"),
            Amount = amount,
            Currency = currency,
            Created = now,
            Metadata = request.HashParam("metadata"),
            PaymentMethod = source,
        };
        _charges[charge.Id] = charge;

        if (source is not null && DeclineCodes.TryGetValue(source, out var declineCode))
        {
            charge.Status = "failed";
            charge.FailureCode = "card_declined";
            charge.FailureMessage = "Your card was declined.";
            var response = Error(402, "card_error", "Your card was declined.", code: "card_declined", declineCode: declineCode,
                extra: new JsonObject { ["charge"] = charge.Id });
            return new VendorResponse(response.Status, response.Body) { ObjectId = charge.Id, AmountMinor = amount, Currency = currency };
        }

        var txn = NewBalanceTransaction(amount, currency, Options.FeeFor(amount), "charge", charge.Id, now);
        charge.BalanceTransactionId = txn.Id;
        charge.Status = "succeeded";
        charge.Paid = true;
        return Ok(RenderCharge(charge, request.ListParam("expand"), hideBalanceTransaction: false), charge.Id, amount, currency);
    }

    private VendorResponse RetrieveCharge(FakeRequest request, string id) =>
        _charges.TryGetValue(id, out var charge)
            ? Ok(RenderCharge(charge, request.ListParam("expand"), hideBalanceTransaction: false), id)
            : NoSuch("charge", id, "id");

    private VendorResponse RetrieveBalanceTransaction(string id) =>
        _balanceTransactions.TryGetValue(id, out var txn) ? Ok(RenderBalanceTransaction(txn), id) : NoSuch("balance_transaction", id, "id");

    private static VendorResponse CreateSimpleMoneyObject(FakeRequest request, string objectType, string prefix)
    {
        var (amount, currency, invalid) = ReadAmountAndCurrency(request);
        if (invalid is not null)
        {
            return invalid;
        }

        var now = request.ReceivedAt.ToUnixTimeSeconds();
        var id = FakeIds.Stripe(prefix);
        var body = new JsonObject
        {
            ["id"] = id,
            ["object"] = objectType,
            ["amount"] = amount,
            ["created"] = now,
            ["currency"] = currency,
            ["description"] = request.Param("description"),
            ["livemode"] = false,
            ["metadata"] = ToJson(request.HashParam("metadata")),
        };
        if (objectType == "payout")
        {
            body["arrival_date"] = now + 2 * 86400;
            body["automatic"] = false;
            body["destination"] = request.Param("destination");
            body["method"] = request.Param("method") ?? "standard";
            body["status"] = "pending";
            body["type"] = "bank_account";
        }
        else
        {
            body["amount_reversed"] = 0;
            body["destination"] = request.Param("destination");
            body["reversed"] = false;
            body["transfer_group"] = request.Param("transfer_group");
        }

        return Ok(body, id, amount, currency);
    }

    private VendorResponse CreateMeterEvent(FakeRequest request)
    {
        var eventName = request.Param("event_name");
        if (string.IsNullOrEmpty(eventName))
        {
            return MissingParam("event_name");
        }

        var payload = request.HashParam("payload");
        foreach (var required in (string[])["stripe_customer_id", "value"])
        {
            if (!payload.ContainsKey(required))
            {
                return MissingParam($"payload[{required}]");
            }
        }

        if (!long.TryParse(payload["value"], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
        {
            // Stripe takes whole numbers only (negative ones correct earlier usage).
            return Error(400, "invalid_request_error", $"Invalid integer: {payload["value"]}",
                code: "parameter_invalid_integer", param: "payload[value]");
        }

        var now = request.ReceivedAt.ToUnixTimeSeconds();
        var timestamp = now;
        if (request.Param("timestamp") is { } timestampText)
        {
            if (!long.TryParse(timestampText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out timestamp))
            {
                return Error(400, "invalid_request_error", $"Invalid integer: {timestampText}",
                    code: "parameter_invalid_integer", param: "timestamp");
            }

            if (timestamp < now - 35 * 86400 || timestamp > now + 300)
            {
                return Error(400, "invalid_request_error",
                    "Timestamp must be within the past 35 calendar days and not more than 5 minutes in the future.",
                    code: "timestamp_out_of_range", param: "timestamp");
            }
        }

        var identifier = request.Param("identifier") ?? FakeIds.Alnum(24);
        if (identifier.Length > 100)
        {
            return Error(400, "invalid_request_error", "Identifier must be at most 100 characters.",
                code: "parameter_invalid_string", param: "identifier");
        }

        if (_meterEvents.Exists(e => e.Identifier == identifier))
        {
            return Error(400, "invalid_request_error",
                $"An event with identifier '{identifier}' already exists.", code: "resource_already_exists", param: "identifier");
        }

        _meterEvents.Add(new StripeMeterEvent(eventName, identifier, payload, timestamp));
        return Ok(new JsonObject
        {
            ["object"] = "billing.meter_event",
            ["created"] = now,
            ["event_name"] = eventName,
            ["identifier"] = identifier,
            ["livemode"] = false,
            ["payload"] = ToJson(payload),
            ["timestamp"] = timestamp,
        }, identifier);
    }

    /// <summary>
    /// Stripe: <c>POST /v1/payment_intents/{id}</c> updates; <c>metadata[k]=v</c> merges into the existing
    /// metadata and <c>metadata[k]=</c> (empty) removes that key.
    /// </summary>
    private VendorResponse UpdatePaymentIntent(FakeRequest request, string id)
    {
        if (!_paymentIntents.TryGetValue(id, out var pi))
        {
            return NoSuch("payment_intent", id, "intent");
        }

        var metadata = new Dictionary<string, string>(pi.Metadata, StringComparer.Ordinal);
        foreach (var (key, value) in request.HashParam("metadata"))
        {
            if (value.Length == 0)
            {
                metadata.Remove(key);
            }
            else
            {
                metadata[key] = value;
            }
        }

        pi.Metadata = metadata;
        pi.Description = request.Param("description") ?? pi.Description;
        return Ok(RenderPaymentIntent(pi, request.ListParam("expand"), hideBalanceTransaction: false), pi.Id);
    }

    /// <summary>Stripe: an intent can be canceled unless it already succeeded or was canceled.</summary>
    private VendorResponse CancelPaymentIntent(string id)
    {
        if (!_paymentIntents.TryGetValue(id, out var pi))
        {
            return NoSuch("payment_intent", id, "intent");
        }

        if (pi.Status is "succeeded" or "canceled")
        {
            return Error(400, "invalid_request_error",
                $"You cannot cancel this PaymentIntent because it has a status of {pi.Status}.", code: "payment_intent_unexpected_state");
        }

        pi.Status = "canceled";
        return Ok(RenderPaymentIntent(pi, [], hideBalanceTransaction: false), pi.Id);
    }

    /// <summary>Stripe: only an intent in <c>requires_capture</c> (manual capture, confirmed) can be captured.</summary>
    private VendorResponse CapturePaymentIntent(FakeRequest request, string id)
    {
        if (!_paymentIntents.TryGetValue(id, out var pi))
        {
            return NoSuch("payment_intent", id, "intent");
        }

        return pi.Status == "requires_capture"
            ? Ok(RenderPaymentIntent(pi, request.ListParam("expand"), hideBalanceTransaction: false), pi.Id)
            : Error(400, "invalid_request_error",
                $"This PaymentIntent could not be captured because it has a status of {pi.Status}.", code: "payment_intent_unexpected_state");
    }

    /// <summary>Stripe: <c>POST /v1/customers</c> with optional <c>email</c>, <c>name</c>, <c>metadata[...]</c>; all optional.</summary>
    private VendorResponse CreateCustomer(FakeRequest request)
    {
        var id = FakeIds.Stripe("cus_");
        var customer = new JsonObject
        {
            ["id"] = id,
            ["object"] = "customer",
            ["balance"] = 0,
            ["created"] = request.ReceivedAt.ToUnixTimeSeconds(),
            ["currency"] = null,
            ["delinquent"] = false,
            ["description"] = request.Param("description"),
            ["email"] = request.Param("email"),
            ["livemode"] = false,
            ["metadata"] = ToJson(request.HashParam("metadata")),
            ["name"] = request.Param("name"),
        };
        _customers[id] = customer;
        _customerOrder.Add(id);
        return Ok(customer.DeepClone(), id);
    }

    /// <summary>A list's <c>limit</c>, 1-100 (default 10), or Stripe's error for any other value.</summary>
    private static VendorResponse? ListLimit(FakeRequest request, out int limit)
    {
        limit = 10;
        return request.Param("limit") is { } limitText
            && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > 100)
            ? Error(400, "invalid_request_error", "Invalid limit: must be an integer between 1 and 100.", code: "parameter_invalid_integer", param: "limit")
            : null;
    }

    /// <summary>Stripe list shape: newest first, <c>limit</c> 1-100 (default 10), <c>starting_after</c> an id on an earlier page.</summary>
    private VendorResponse ListCustomers(FakeRequest request)
    {
        if (ListLimit(request, out int limit) is { } invalid)
        {
            return invalid;
        }

        IEnumerable<string> newestFirst = Enumerable.Reverse(_customerOrder);
        if (request.Param("starting_after") is { } after)
        {
            newestFirst = newestFirst.SkipWhile(c => c != after).Skip(1);
        }

        var page = newestFirst.Take(limit + 1).ToList();
        var data = new JsonArray();
        foreach (var id in page.Take(limit))
        {
            data.Add(_customers[id].DeepClone());
        }

        return Ok(new JsonObject { ["object"] = "list", ["data"] = data, ["has_more"] = page.Count > limit, ["url"] = "/v1/customers" });
    }

    private static VendorResponse RetrieveCustomer(string id) =>
        id.StartsWith("cus_", StringComparison.Ordinal)
            ? Ok(new JsonObject
            {
                ["id"] = id,
                ["object"] = "customer",
                ["balance"] = 0,
                ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
                ["currency"] = null,
                ["delinquent"] = false,
                ["description"] = null,
                ["email"] = null,
                ["livemode"] = false,
                ["metadata"] = new JsonObject(),
                ["name"] = null,
            }, id)
            : NoSuch("customer", id, "id");

    private StripeBalanceTransaction NewBalanceTransaction(long amount, string currency, long fee, string type, string source, long created)
    {
        var txn = new StripeBalanceTransaction
        {
            Id = FakeIds.Stripe("txn_"),
            Amount = amount,
            Currency = currency,
            Fee = fee,
            Type = type,
            Source = source,
            Created = created,
        };
        _balanceTransactions[txn.Id] = txn;
        return txn;
    }

    private JsonObject RenderPaymentIntent(StripePaymentIntent pi, IReadOnlyList<string> expand, bool hideBalanceTransaction)
    {
        JsonNode? latestCharge = pi.LatestChargeId;
        if (pi.LatestChargeId is not null && _charges.TryGetValue(pi.LatestChargeId, out var charge) && Expands(expand, "latest_charge"))
        {
            latestCharge = RenderCharge(charge, SubExpansions(expand, "latest_charge"), hideBalanceTransaction);
        }

        return new JsonObject
        {
            ["id"] = pi.Id,
            ["object"] = "payment_intent",
            ["amount"] = pi.Amount,
            ["amount_capturable"] = 0,
            ["amount_received"] = pi.AmountReceived,
            ["capture_method"] = pi.CaptureMethod,
            ["client_secret"] = pi.Id + "_secret_" + pi.Id[3..],
            ["confirmation_method"] = "automatic",
            ["created"] = pi.Created,
            ["currency"] = pi.Currency,
            ["customer"] = pi.Customer,
            ["description"] = pi.Description,
            ["last_payment_error"] = pi.LastPaymentError?.DeepClone(),
            ["latest_charge"] = latestCharge,
            ["livemode"] = false,
            ["metadata"] = ToJson(pi.Metadata),
            ["payment_method"] = pi.PaymentMethod,
            ["payment_method_types"] = new JsonArray("card"),
            ["status"] = pi.Status,
        };
    }

    private JsonObject RenderCharge(StripeCharge charge, IReadOnlyList<string> expand, bool hideBalanceTransaction)
    {
        JsonNode? balanceTransaction = null;
        if (!hideBalanceTransaction && charge.BalanceTransactionId is { } txnId)
        {
            balanceTransaction = Expands(expand, "balance_transaction") && _balanceTransactions.TryGetValue(txnId, out var txn)
                ? RenderBalanceTransaction(txn)
                : txnId;
        }

        return new JsonObject
        {
            ["id"] = charge.Id,
            ["object"] = "charge",
            ["amount"] = charge.Amount,
            ["amount_captured"] = charge.Paid ? charge.Amount : 0,
            ["amount_refunded"] = charge.AmountRefunded,
            ["balance_transaction"] = balanceTransaction,
            ["captured"] = charge.Paid,
            ["created"] = charge.Created,
            ["currency"] = charge.Currency,
            ["failure_code"] = charge.FailureCode,
            ["failure_message"] = charge.FailureMessage,
            ["livemode"] = false,
            ["metadata"] = ToJson(charge.Metadata),
            ["paid"] = charge.Paid,
            ["payment_intent"] = charge.PaymentIntentId,
            ["payment_method"] = charge.PaymentMethod,
            ["refunded"] = charge.Paid && charge.AmountRefunded >= charge.Amount,
            ["status"] = charge.Status,
        };
    }

    private static JsonObject RenderBalanceTransaction(StripeBalanceTransaction txn)
    {
        var feeDetails = new JsonArray();
        if (txn.Fee != 0)
        {
            feeDetails.Add(new JsonObject
            {
                ["amount"] = txn.Fee,
                ["application"] = null,
                ["currency"] = txn.Currency,
                ["description"] = "Stripe processing fees",
                ["type"] = "stripe_fee",
            });
        }

        return new JsonObject
        {
            ["id"] = txn.Id,
            ["object"] = "balance_transaction",
            ["amount"] = txn.Amount,
            ["available_on"] = txn.Created + 2 * 86400,
            ["created"] = txn.Created,
            ["currency"] = txn.Currency,
            ["description"] = null,
            ["exchange_rate"] = null,
            ["fee"] = txn.Fee,
            ["fee_details"] = feeDetails,
            ["net"] = txn.Net,
            ["reporting_category"] = txn.Type,
            ["source"] = txn.Source,
            ["status"] = "pending",
            ["type"] = txn.Type,
        };
    }

    private static bool Expands(IReadOnlyList<string> expand, string field) =>
        expand.Any(e => e == field || e.StartsWith(field + ".", StringComparison.Ordinal));

    private static List<string> SubExpansions(IReadOnlyList<string> expand, string field) =>
        expand.Where(e => e.StartsWith(field + ".", StringComparison.Ordinal)).Select(e => e[(field.Length + 1)..]).ToList();

    private static (long Amount, string Currency, VendorResponse? Error) ReadAmountAndCurrency(FakeRequest request)
    {
        var amountText = request.Param("amount");
        if (string.IsNullOrEmpty(amountText))
        {
            return (0, string.Empty, MissingParam("amount"));
        }

        if (LenientInteger(amountText) is not long amount)
        {
            return (0, string.Empty, Error(400, "invalid_request_error", $"Invalid integer: {amountText}",
                code: "parameter_invalid_integer", param: "amount"));
        }

        if (amount < 1)
        {
            return (0, string.Empty, Error(400, "invalid_request_error", "This value must be greater than or equal to 1.",
                code: "parameter_invalid_integer", param: "amount"));
        }

        var currency = request.Param("currency")?.Trim();
        if (string.IsNullOrEmpty(currency))
        {
            return (0, string.Empty, MissingParam("currency"));
        }

        if (currency.Length != 3 || !currency.All(char.IsAsciiLetter))
        {
            return (0, string.Empty, Error(400, "invalid_request_error", $"Invalid currency: {currency}.",
                code: "parameter_invalid_string", param: "currency"));
        }

        return (amount, currency.ToLowerInvariant(), null);
    }

    /// <summary>
    /// Rule: integers are read as leniently as a forgiving server might: surrounding spaces, a sign, leading
    /// zeros, '_' digit separators, and decimal or exponent forms of a whole number ("1e3", "1000.0") are all
    /// accepted. The proxy must bound (or refuse) every one of these forms.
    /// </summary>
    internal static long? LenientInteger(string text)
    {
        var trimmed = text.Trim().Replace("_", string.Empty, StringComparison.Ordinal);
        if (decimal.TryParse(trimmed, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value == decimal.Truncate(value) &&
            value is >= long.MinValue and <= long.MaxValue)
        {
            return (long)value;
        }

        return null;
    }

    private static bool IsTrue(string? value) => string.Equals(value, "true", StringComparison.OrdinalIgnoreCase);

    private static JsonObject ToJson(IReadOnlyDictionary<string, string> values)
    {
        var json = new JsonObject();
        foreach (var (key, value) in values)
        {
            json[key] = value;
        }

        return json;
    }

    private static VendorResponse Ok(JsonNode body, string? objectId = null, long? amountMinor = null, string? currency = null) =>
        new(200, VendorResponse.Serialize(body)) { ObjectId = objectId, AmountMinor = amountMinor, Currency = currency };

    private static VendorResponse MissingParam(string param) =>
        Error(400, "invalid_request_error", $"Missing required param: {param}.", code: "parameter_missing", param: param);

    private static VendorResponse NoSuch(string objectType, string id, string param) =>
        Error(404, "invalid_request_error", $"No such {objectType}: '{id}'", code: "resource_missing", param: param);

    private static VendorResponse Error(
        int status,
        string type,
        string message,
        string? code = null,
        string? param = null,
        string? declineCode = null,
        JsonObject? extra = null)
    {
        var error = new JsonObject();
        if (code is not null)
        {
            error["code"] = code;
            error["doc_url"] = "https://stripe.com/docs/error-codes/" + code.Replace('_', '-');
        }

        if (declineCode is not null)
        {
            error["decline_code"] = declineCode;
        }

        error["message"] = message;
        if (param is not null)
        {
            error["param"] = param;
        }

        error["type"] = type;
        if (extra is not null)
        {
            foreach (var (key, value) in extra)
            {
                error[key] = value?.DeepClone();
            }
        }

        return new VendorResponse(status, VendorResponse.Serialize(new JsonObject { ["error"] = error }));
    }
}
