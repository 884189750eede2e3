/**
 * The harbor-quickstart document against a local Harepost run the way an operator whose users
 * follow it would run it: HAREPOST_DEFAULT_SIGNATURE=harbor. Its three request bodies are sent
 * byte for byte; only the host (api.harbor.example → this service; webhook.site keeps its name and
 * gains the receiver's port), the key (hk_test_your_test_key → a Harepost test key) and the
 * placeholder destination id (dest_01HXYZ → the id step 2 answered) change. Then the delivery
 * lands with a Harbor-Signature header that Stripe's verifier (the `stripe` package) accepts, and
 * the list shows one delivery: status `delivered` (harbor's "succeeded"), response_code 200.
 *
 * The rest of the destinations/subscriptions/events API is in events-harbor.test.ts; every
 * signature scheme and rotation in signature-schemes.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Stripe from 'stripe';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

// "2. Register the destination" (url host: webhook.site → webhook.site:<receiver port>)
const DESTINATION_BODY = (port: number) => `{ "url": "https://webhook.site:${port}/your-unique-id", "name": "Quickstart receiver" }`;
// "3. Subscribe to an event type" (dest_01HXYZ → the destination made in step 2)
const SUBSCRIPTION_BODY = (destinationId: string) => `{ "destination_id": "${destinationId}", "event_type": "order.created" }`;
// "4. Send an event"
const EVENT_BODY = '{ "type": "order.created", "body": { "order_id": "ord_123", "amount_cents": 4500 } }';

describe('seed: harbor-quickstart (HAREPOST_DEFAULT_SIGNATURE=harbor)', () => {
  let stack: Stack;
  let acct: TestAccount;
  /** `-H "Authorization: Bearer hk_test_your_test_key" -H "Content-Type: application/json" -d '…'` */
  const curl = (method: string, path: string, rawBody?: string) =>
    stack.api(method, path, {
      key: acct.test_key,
      ...(rawBody === undefined ? {} : { rawBody, headers: { 'content-type': 'application/json' } }),
    });

  before(async () => {
    stack = await startStack({ certNames: ['webhook.site'], env: { HAREPOST_DEFAULT_SIGNATURE: 'harbor' } });
    stack.dns.setA('webhook.site', ['127.0.0.1']);
    acct = await stack.createAccount('harbor-quickstart');
  });
  after(async () => stack.close());

  it('runs steps 2–5 in test mode: the delivery lands signed with Harbor-Signature; one delivery, delivered, response_code 200', async () => {
    // 2. the destination: its id and signing_secret
    const dest = await curl('POST', '/v1/destinations', DESTINATION_BODY(stack.receiver.port));
    assert.equal(dest.status, 201, dest.text);
    assert.match(dest.body.id, /^dest_[A-Za-z0-9]+$/);
    assert.equal(dest.body.name, 'Quickstart receiver');
    assert.equal(typeof dest.body.signing_secret, 'string');
    assert.ok(dest.body.signing_secret.length > 0);
    const secret: string = dest.body.signing_secret;

    // 3. subscribe
    const sub = await curl('POST', '/v1/subscriptions', SUBSCRIPTION_BODY(dest.body.id));
    assert.equal(sub.status, 201, sub.text);
    assert.match(sub.body.id, /^sub_/);
    assert.equal(sub.body.event_type, 'order.created');

    // 4. send the event
    const ev = await curl('POST', '/v1/events', EVENT_BODY);
    assert.equal(ev.status, 202, ev.text);
    assert.match(ev.body.id, /^evt_/);
    assert.equal(ev.body.deliveries.length, 1);

    // 5. "you should see a POST with the event body and a Harbor-Signature header"
    const [req] = await stack.receiver.waitForRequests(1);
    assert.equal(req!.method, 'POST');
    assert.equal(req!.path, '/your-unique-id');
    assert.deepEqual(JSON.parse(req!.body.toString('utf8')), { order_id: 'ord_123', amount_cents: 4500 });
    const header = req!.headers['harbor-signature'];
    assert.match(header ?? '', /^t=\d+,v1=[0-9a-f]{64}$/, `Harbor-Signature: ${header}`);
    const t = Number(/^t=(\d+)/.exec(header!)![1]);
    assert.ok(Math.abs(t - Date.now() / 1000) < 60, 'the timestamp is the time of the attempt');
    // a receiver written for Harbor verifies it the Stripe way, against the raw bytes received
    assert.deepEqual(Stripe.webhooks.constructEvent(req!.body, header!, secret), { order_id: 'ord_123', amount_cents: 4500 });
    assert.throws(() => Stripe.webhooks.constructEvent(req!.body, header!, `${secret}x`), 'another secret does not verify');

    // "One delivery, status succeeded, response_code: 200." — Harepost says delivered
    const list = await waitFor(async () => {
      const r = await curl('GET', '/v1/deliveries');
      assert.equal(r.status, 200, r.text);
      return r.body.data.length === 1 && r.body.data[0].status === 'delivered' ? r.body : undefined;
    }, { message: 'the quickstart delivery did not become delivered' });
    assert.equal(list.data.length, 1);
    assert.equal(list.data[0].queue_id, ev.body.deliveries[0].queue_id);
    assert.equal(list.data[0].status, 'delivered');
    assert.equal(list.data[0].response_code, 200);
    assert.equal(list.data[0].last_status, 200);
    assert.equal(list.next_cursor, null);

    // test mode: nothing of it under the live key
    const live = await stack.api('GET', '/v1/deliveries', { key: acct.live_key });
    assert.deepEqual(live.body.data, []);
  });
});
