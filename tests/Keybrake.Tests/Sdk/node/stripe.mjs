// stripe-node through Keybrake, driven by NodeSdkTests: `node stripe.mjs <scenario>` with KEYBRAKE_URL and
// KEYBRAKE_VAULT_KEY set; prints one JSON line. The snippet regions are copied verbatim into docs/agents.md
// (DocsSnippetTests holds them equal), so what the page shows is what ran here.
import { report, describeError } from './report.mjs';

// snippet: stripe-node
import Stripe from 'stripe';

// stripe-node takes a host, not a base URL: point it at the app's root. A vault key on /v1/... is a Stripe call.
const app = new URL(process.env.KEYBRAKE_URL); // e.g. https://keybrake.example.com
const stripe = new Stripe(process.env.KEYBRAKE_VAULT_KEY, {
  host: app.hostname,
  port: app.port || (app.protocol === 'https:' ? 443 : 80),
  protocol: app.protocol.replace(':', ''),
});
// end snippet

const audit = (resource) => resource.lastResponse.headers['x-keybrake-audit-id'];

const scenarios = {
  async 'charge-refund'() {
    const intent = await stripe.paymentIntents.create({
      amount: 2000, currency: 'usd', confirm: true, payment_method: 'pm_card_visa',
    });
    const refund = await stripe.refunds.create({ payment_intent: intent.id, amount: 500 });
    return {
      intent: { id: intent.id, status: intent.status, amount_received: intent.amount_received, audit_id: audit(intent) },
      refund: { id: refund.id, amount: refund.amount, status: refund.status, audit_id: audit(refund) },
    };
  },

  async denied() {
    const errors = {};
    let refusal;
    // snippet: stripe-node-denial
    try {
      await stripe.paymentIntents.create({ amount: 90000, currency: 'usd', confirm: true, payment_method: 'pm_card_visa' });
    } catch (err) {
      if (!(err instanceof Stripe.errors.StripeError) || !err.code?.startsWith('keybrake_')) throw err;
      // err.type 'StripeRateLimitError', err.statusCode 429, err.code 'keybrake_cap_exceeded', err.message: cap, spent, remaining
      refusal = err;
    }
    // end snippet
    errors.cap = describeError(refusal);
    try {
      await stripe.customers.create({ email: 'a@example.com' });
    } catch (err) {
      errors.allowlist = describeError(err);
    }
    return errors;
  },
};

await report(scenarios);
