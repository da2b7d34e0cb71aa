// resend-node through Keybrake, driven by NodeSdkTests (see stripe.mjs for the conventions).
import { report } from './report.mjs';

// snippet: resend-node
import { Resend } from 'resend';

const resend = new Resend(process.env.KEYBRAKE_VAULT_KEY, { baseUrl: `${process.env.KEYBRAKE_URL}/proxy/resend` });
// end snippet

const email = (to) => ({ from: 'Acme <billing@acme.test>', to, subject: 'Your receipt', text: 'Thanks!' });

const scenarios = {
  async single() {
    const { data, error } = await resend.emails.send(email('ada@example.com'));
    return { data, error };
  },

  async batch() {
    const { data, error } = await resend.batch.send([email('ada@example.com'), email('grace@example.com'), email('alan@example.com')]);
    return { data, error };
  },

  async denied() {
    // snippet: resend-node-denial
    // resend-node does not throw: a refusal comes back as `error`, Resend's own shape.
    const { error } = await resend.domains.list();
    if (error?.name?.startsWith('keybrake_')) {
      // error.statusCode 403, error.name 'keybrake_endpoint_not_allowed', error.message names the operation
    }
    // end snippet
    return { error };
  },
};

await report(scenarios);
