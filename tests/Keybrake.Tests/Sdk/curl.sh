#!/usr/bin/env bash
# Plain HTTP through Keybrake, driven by CurlTests: `bash curl.sh <vendor>` with KEYBRAKE_URL and
# KEYBRAKE_VAULT_KEY set prints the answer's body. The snippet regions are copied verbatim into docs/agents.md.
set -euo pipefail
case "${1:-}" in
  stripe)
    # snippet: curl-stripe
    # Stripe at the app's root (or "$KEYBRAKE_URL/proxy/stripe/v1/payment_intents"): the vault key is the API key.
    curl -s "$KEYBRAKE_URL/v1/payment_intents" -u "$KEYBRAKE_VAULT_KEY:" \
      -d amount=2000 -d currency=usd -d confirm=true -d payment_method=pm_card_visa
    # end snippet
    ;;
  twilio)
    # snippet: curl-twilio
    # Twilio: Basic auth with any Account SID and the vault key as the password.
    curl -s "$KEYBRAKE_URL/proxy/twilio/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json" \
      -u "AC00000000000000000000000000000000:$KEYBRAKE_VAULT_KEY" \
      --data-urlencode To=+15145535858 --data-urlencode From=+15149002890 --data-urlencode "Body=Your code is 123456"
    # end snippet
    ;;
  resend)
    # snippet: curl-resend
    curl -s "$KEYBRAKE_URL/proxy/resend/emails" -H "Authorization: Bearer $KEYBRAKE_VAULT_KEY" \
      -H 'Content-Type: application/json' \
      -d '{"from":"Acme <billing@acme.test>","to":"ada@example.com","subject":"Your receipt","text":"Thanks!"}'
    # end snippet
    ;;
  *)
    echo "usage: curl.sh stripe|twilio|resend" >&2
    exit 2
    ;;
esac
