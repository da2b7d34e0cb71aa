"""stripe-python, twilio-python and resend-python through Keybrake, driven by PythonSdkTests.

`python3 sdks.py <scenario>` with KEYBRAKE_URL and KEYBRAKE_VAULT_KEY set prints one JSON line, like the
Node scripts. The snippet regions are copied verbatim into docs/agents.md. Run only where python3 has the
stripe, twilio and resend packages (PyPI is not reachable from the project's machines).
"""
import json
import sys


def describe(err):
    return {
        "class": type(err).__name__,
        "status": getattr(err, "http_status", None) or getattr(err, "status", None),
        # stripe-python sets err.code only on some classes (not RateLimitError, PermissionError, AuthenticationError);
        # err.error is the whole error object, code included, on every one.
        "code": getattr(getattr(err, "error", None), "code", None) or getattr(err, "code", None),
        "message": getattr(err, "user_message", None) or getattr(err, "msg", None) or getattr(err, "message", None) or str(err),
    }


def stripe_charge_refund():
    # snippet: stripe-python
    import os
    import stripe

    stripe.api_key = os.environ["KEYBRAKE_VAULT_KEY"]
    stripe.api_base = os.environ["KEYBRAKE_URL"] + "/proxy/stripe"
    # end snippet
    intent = stripe.PaymentIntent.create(amount=2000, currency="usd", confirm=True, payment_method="pm_card_visa")
    refund = stripe.Refund.create(payment_intent=intent.id, amount=500)
    return {"intent": {"id": intent.id, "status": intent.status}, "refund": {"id": refund.id, "amount": refund.amount}}


def stripe_denied():
    import os
    import stripe

    stripe.api_key = os.environ["KEYBRAKE_VAULT_KEY"]
    stripe.api_base = os.environ["KEYBRAKE_URL"] + "/proxy/stripe"
    # stripe.StripeError since stripe-python 8; stripe.error.StripeError before (Debian's python3-stripe is 5.0).
    stripe_error = getattr(stripe, "StripeError", None) or stripe.error.StripeError
    try:
        stripe.PaymentIntent.create(amount=90000, currency="usd", confirm=True, payment_method="pm_card_visa")
    except stripe_error as err:
        return {"cap": describe(err)}
    return {"cap": None}


def twilio_sms():
    # snippet: twilio-python
    import os
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    class KeybrakeHttpClient(TwilioHttpClient):
        """twilio-python builds https://api.twilio.com URLs itself; its http_client hook moves them."""

        def request(self, method, url, *args, **kwargs):
            url = url.replace("https://api.twilio.com", os.environ["KEYBRAKE_URL"] + "/proxy/twilio", 1)
            return super().request(method, url, *args, **kwargs)

    client = Client("AC00000000000000000000000000000000", os.environ["KEYBRAKE_VAULT_KEY"], http_client=KeybrakeHttpClient())
    # end snippet
    message = client.messages.create(to="+15145535858", from_="+15149002890", body="Your code is 123456")
    return {"sid": message.sid, "status": message.status}


def resend_single_and_batch():
    # snippet: resend-python
    import os
    import resend

    resend.api_key = os.environ["KEYBRAKE_VAULT_KEY"]
    resend.api_url = os.environ["KEYBRAKE_URL"] + "/proxy/resend"
    # end snippet
    email = {"from": "Acme <billing@acme.test>", "subject": "Your receipt", "text": "Thanks!"}
    single = resend.Emails.send({**email, "to": "ada@example.com"})
    batch = resend.Batch.send([{**email, "to": "ada@example.com"}, {**email, "to": "grace@example.com"}])
    return {"single": single, "batch": batch}


SCENARIOS = {
    "stripe-charge-refund": stripe_charge_refund,
    "stripe-denied": stripe_denied,
    "twilio-sms": twilio_sms,
    "resend-single-batch": resend_single_and_batch,
}

if __name__ == "__main__":
    scenario = SCENARIOS.get(sys.argv[1] if len(sys.argv) > 1 else "")
    if scenario is None:
        sys.exit("scenario: one of " + ", ".join(SCENARIOS))
    try:
        print(json.dumps({"ok": True, "result": scenario()}, default=str))
    except Exception as err:  # the SDK's error, reported to the test
        print(json.dumps({"ok": False, "error": describe(err)}))
