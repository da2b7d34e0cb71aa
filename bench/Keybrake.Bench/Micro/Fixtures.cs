namespace Keybrake.Bench.Micro;

/// <summary>Vendor answers as the cost parsers meet them, shaped and sized like the real APIs' (ids made up).</summary>
internal static class Fixtures
{
    /// <summary>A confirmed payment intent with <c>latest_charge.balance_transaction</c> expanded, as the proxy parses for the fee.</summary>
    public const string StripePaymentIntent = """
        {
          "id": "pi_3MtwBwLkdIwHu7ix28a3tqPa", "object": "payment_intent", "amount": 2000, "amount_capturable": 0,
          "amount_details": { "tip": {} }, "amount_received": 2000, "application": null, "application_fee_amount": null,
          "automatic_payment_methods": null, "canceled_at": null, "cancellation_reason": null, "capture_method": "automatic",
          "client_secret": "pi_3MtwBwLkdIwHu7ix28a3tqPa_secret_YrKJUKribcBjcG8HVhfZluoGH", "confirmation_method": "automatic",
          "created": 1680800504, "currency": "usd", "customer": null, "description": null, "invoice": null,
          "last_payment_error": null,
          "latest_charge": {
            "id": "ch_3MtwBwLkdIwHu7ix28a3tqPa", "object": "charge", "amount": 2000, "amount_captured": 2000, "amount_refunded": 0,
            "balance_transaction": {
              "id": "txn_3MtwBwLkdIwHu7ix2bKqcrMd", "object": "balance_transaction", "amount": 2000, "available_on": 1681344000,
              "created": 1680800505, "currency": "usd", "description": null, "exchange_rate": null, "fee": 88,
              "fee_details": [ { "amount": 88, "application": null, "currency": "usd", "description": "Stripe processing fees", "type": "stripe_fee" } ],
              "net": 1912, "reporting_category": "charge", "source": "ch_3MtwBwLkdIwHu7ix28a3tqPa", "status": "pending", "type": "charge"
            },
            "captured": true, "created": 1680800505, "currency": "usd", "paid": true, "payment_intent": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
            "payment_method": "pm_1MtwBwLkdIwHu7ixvQfB4ZVf",
            "payment_method_details": { "card": { "brand": "visa", "country": "US", "exp_month": 8, "exp_year": 2027, "funding": "credit", "last4": "4242", "network": "visa" }, "type": "card" },
            "receipt_url": "https://pay.stripe.com/receipts/payment/CAcaFwoVYWNjdF8xTTJKVGtMa2RJd0h1N2l4KLm2vqEGMgZ3LLpP3u86LBY", "refunded": false, "status": "succeeded"
          },
          "livemode": false, "metadata": { "order": "order-42", "keybrake_ref": "kbr_0123456789abcdef" }, "next_action": null,
          "on_behalf_of": null, "payment_method": "pm_1MtwBwLkdIwHu7ixvQfB4ZVf",
          "payment_method_options": { "card": { "installments": null, "mandate_options": null, "network": null, "request_three_d_secure": "automatic" } },
          "payment_method_types": [ "card" ], "processing": null, "receipt_email": null, "review": null, "setup_future_usage": null,
          "shipping": null, "source": null, "statement_descriptor": null, "statement_descriptor_suffix": null, "status": "succeeded",
          "transfer_data": null, "transfer_group": null
        }
        """;

    /// <summary>A message just created: Twilio has not priced it yet (<c>price</c> null), so the segment count decides.</summary>
    public const string TwilioMessage = """
        {
          "account_sid": "AC0123456789abcdef0123456789abcdef", "api_version": "2010-04-01",
          "body": "Your order has shipped. Track it at https://example.com/t/42", "date_created": "Thu, 24 Aug 2023 05:01:45 +0000",
          "date_sent": null, "date_updated": "Thu, 24 Aug 2023 05:01:45 +0000", "direction": "outbound-api", "error_code": null,
          "error_message": null, "from": "+15017122661", "messaging_service_sid": null, "num_media": "0", "num_segments": "1",
          "price": null, "price_unit": "USD", "sid": "SM0123456789abcdef0123456789abcdef", "status": "queued",
          "subresource_uris": { "media": "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages/SM0123456789abcdef0123456789abcdef/Media.json" },
          "to": "+15558675310", "uri": "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages/SM0123456789abcdef0123456789abcdef.json"
        }
        """;

    public const string ResendSendRequest = """
        {"from":"Acme <onboarding@acme.dev>","to":["delivered@resend.dev"],"subject":"Welcome","html":"<p>Welcome aboard!</p>"}
        """;

    public const string ResendSendResponse = """{"id":"49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"}""";

    public const string ResendBatchRequest = """
        [{"from":"Acme <onboarding@acme.dev>","to":["a@resend.dev"],"subject":"Hi","html":"<p>1</p>"},
         {"from":"Acme <onboarding@acme.dev>","to":["b@resend.dev"],"subject":"Hi","html":"<p>2</p>"},
         {"from":"Acme <onboarding@acme.dev>","to":["c@resend.dev"],"subject":"Hi","html":"<p>3</p>"}]
        """;

    public const string ResendBatchResponse = """
        {"data":[{"id":"ae2014de-c168-4c61-8267-70d2662a1ce1"},{"id":"faccb7a5-8a28-4e9a-ac64-8da1cc3bc1cb"},{"id":"5d51a6bb-d2a2-4f7c-8b3e-6b8a6a8c1c3e"}]}
        """;
}
