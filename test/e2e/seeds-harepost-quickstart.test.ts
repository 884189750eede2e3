/**
 * The harepost-quickstart document, run as written against a local Harepost: its request bodies
 * are sent byte for byte; only the host (api.harepost.com → this service; your-app.com keeps its
 * name and gains the receiver's port) and the key (hp_live_YOUR_KEY → a real live key) change.
 * your-app.com resolves to 127.0.0.1 through the test DNS server, which also serves the TXT record.
 *
 * The closing section ("What happens when an endpoint fails": 5xx and timeouts retried with
 * backoff, a deliberate 4xx not retried, dead letter after the attempts) is proven by
 * delivery-outcomes.test.ts and send-forwarding.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { waitFor } from '../support/wait.js';
import { SEED_TIMESTAMP } from '../support/seed-examples.js';

const ISO = SEED_TIMESTAMP;

// §2 "Verify a sending domain": both calls send this body
const DOMAIN_BODY = '{"domain":"your-app.com"}';
// §3 "Send your first webhook" (target host: your-app.com → your-app.com:<receiver port>)
const SEND_BODY = (port: number) => `{
"target": "https://your-app.com:${port}/webhook",
"body": { "event": "order.paid", "id": "ord_123" }
}`;

describe('seed: harepost-quickstart', () => {
  let stack: Stack;
  let acct: TestAccount;
  /** `-H "Authorization: Bearer hp_live_YOUR_KEY" -H "Content-Type: application/json" -d '…'` */
  const curl = (method: string, path: string, rawBody?: string) =>
    stack.api(method, path, {
      key: acct.live_key,
      ...(rawBody === undefined ? {} : { rawBody, headers: { 'content-type': 'application/json' } }),
    });

  before(async () => {
    stack = await startStack({ certNames: ['your-app.com'] });
    stack.dns.setA('your-app.com', ['127.0.0.1']);
    acct = await stack.createAccount('quickstart');
  });
  after(async () => stack.close());

  it('1–4: a live key, a verified domain, a send, and the delivery with its attempt', async () => {
    // 1. a key that looks like hp_live_...
    assert.match(acct.live_key, /^hp_live_[A-Za-z0-9]{32,}$/);

    // 2. add the domain: a DNS record to add
    const added = await curl('POST', '/v1/domains', DOMAIN_BODY);
    assert.equal(added.status, 201, added.text);
    assert.equal(added.body.domain, 'your-app.com');
    assert.equal(added.body.status, 'pending');
    assert.equal(added.body.record.type, 'TXT');
    assert.equal(added.body.record.name, '_harepost-challenge.your-app.com');
    assert.match(added.body.record.value, /^harepost-verify=[A-Za-z0-9_-]+$/);

    // before the record is published: pending ("wait and run verify again")
    const early = await curl('POST', '/v1/domains/verify', DOMAIN_BODY);
    assert.equal(early.status, 200, early.text);
    assert.equal(early.body.status, 'pending');
    // "Add that TXT record at your DNS provider, then verify it"
    stack.dns.setTxt(added.body.record.name, [added.body.record.value]);
    const verified = await curl('POST', '/v1/domains/verify', DOMAIN_BODY);
    assert.equal(verified.status, 200, verified.text);
    assert.equal(verified.body.status, 'verified');

    // 3. send: 202 with a queue id at once
    const sent = await curl('POST', '/v1/send', SEND_BODY(stack.receiver.port));
    assert.equal(sent.status, 202, sent.text);
    assert.match(sent.body.queue_id, /^hr_[a-z0-9]+$/);
    assert.equal(sent.body.status, 'queued');
    assert.match(sent.body.created_at, ISO);
    const queueId: string = sent.body.queue_id;

    // the endpoint gets the request
    const [req] = await stack.receiver.waitForRequests(1);
    assert.equal(req!.method, 'POST');
    assert.equal(req!.path, '/webhook');
    assert.equal(req!.headers.host, `your-app.com:${stack.receiver.port}`);
    assert.deepEqual(JSON.parse(req!.body.toString('utf8')), { event: 'order.paid', id: 'ord_123' });
    assert.equal(req!.headers['content-type'], 'application/json');
    assert.equal(req!.headers['x-harepost-queue-id'], queueId);

    // 4. confirm it arrived: delivered, with the status code and latency of each try
    const d = await waitFor(async () => {
      const r = await curl('GET', `/v1/deliveries/${queueId}`);
      assert.equal(r.status, 200, r.text);
      return r.body.status === 'delivered' ? r.body : undefined;
    }, { message: 'the quickstart delivery was not delivered' });
    assert.equal(d.queue_id, queueId);
    assert.equal(d.status, 'delivered');
    assert.equal(d.target, `https://your-app.com:${stack.receiver.port}/webhook`);
    assert.equal(d.attempts.length, 1);
    assert.equal(d.attempts[0].attempt, 1);
    assert.equal(d.attempts[0].outcome, 'delivered');
    assert.equal(d.attempts[0].http_status, 200);
    assert.equal(typeof d.attempts[0].latency_ms, 'number');
    assert.ok(d.attempts[0].latency_ms >= 0);
  });

  it('"A key can only deliver to domains you have proven you control": another domain is 403', async () => {
    const r = await curl('POST', '/v1/send', SEND_BODY(stack.receiver.port).replace('your-app.com', 'not-your-app.com'));
    assert.equal(r.status, 403, r.text);
    assert.equal(r.body.error.code, 'domain_not_verified');
    assert.equal(r.body.error.field, 'target');
  });
});
