// twilio-node through Keybrake, driven by NodeSdkTests (see stripe.mjs for the conventions).
import { report, describeError } from './report.mjs';

// snippet: twilio-node
import twilio from 'twilio';

// twilio-node builds https://api.twilio.com/... URLs itself and has no base-URL option (edge and region only
// pick other twilio.com hosts); its httpClient hook takes a RequestClient, so a subclass moves the origin.
class KeybrakeRequestClient extends twilio.RequestClient {
  request(opts) {
    const uri = opts.uri.replace(/^https:\/\/api\.twilio\.com/, `${process.env.KEYBRAKE_URL}/proxy/twilio`);
    return super.request({ ...opts, uri });
  }
}

// The vault key is the auth token; any Account SID will do (Keybrake puts the real one in the path).
const client = twilio('AC00000000000000000000000000000000', process.env.KEYBRAKE_VAULT_KEY, {
  httpClient: new KeybrakeRequestClient(),
});
// end snippet

const scenarios = {
  async sms() {
    const message = await client.messages.create({ to: '+15145535858', from: '+15149002890', body: 'Your code is 123456' });
    return { sid: message.sid, status: message.status, num_segments: message.numSegments, account_sid: message.accountSid };
  },

  async denied() {
    let refusal;
    // snippet: twilio-node-denial
    try {
      await client.messages.create({ to: '+15145535858', from: '+15149002890', body: 'x'.repeat(1600) });
    } catch (err) {
      if (!(err instanceof twilio.RestException) || !err.moreInfo?.startsWith('keybrake:')) throw err;
      // err.status 429, err.code 20429, err.moreInfo 'keybrake:cap_exceeded', err.message: cap, spent, remaining
      refusal = err;
    }
    // end snippet
    return { cap: refusal ? describeError(refusal) : null };
  },
};

await report(scenarios);
