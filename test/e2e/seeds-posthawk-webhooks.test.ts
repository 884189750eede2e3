/**
 * The posthawk-webhooks-reference document against a local Harepost: every endpoint it lists,
 * authenticated with X-API-Key as it says, its request bodies sent byte for byte (host and key
 * changed; yourapp.com keeps its name and gains the receiver's port; `uuid` in paths → the id the
 * create answered). Its response shapes: a bare array, the endpoint with `secret`, the test
 * endpoint's {success, status, body}, `{"success": true}` on delete. And a delivered event carries
 * the headers it lists, with an X-Posthawk-Signature that verifies as the document says:
 * HMAC-SHA256 of the raw body keyed with the secret.
 *
 * Validation of these endpoints (400s) and their link to /v1/destinations: events-posthawk.test.ts.
 */
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { verify as octokitVerify } from '@octokit/webhooks-methods';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { sleep, waitFor } from '../support/wait.js';
import { SEED_TIMESTAMP } from '../support/seed-examples.js';

const ISO = SEED_TIMESTAMP;
const ENDPOINT_KEYS = ['created_at', 'description', 'enabled', 'events', 'id', 'secret', 'updated_at', 'url'];

// POST /v1/webhooks, "Request" (url host: yourapp.com → yourapp.com:<receiver port>)
const CREATE_BODY = (port: number) => `{
    "url": "https://yourapp.com:${port}/api/webhooks/posthawk",
    "events": ["delivery", "bounce", "complaint"],
    "description": "Production webhook"
  }`;
// PATCH /v1/webhooks/:id, "Request"
const PATCH_BODY = `{
    "events": ["delivery", "bounce", "complaint", "open", "click"],
    "description": "Updated production webhook"
  }`;

/** The document's recipe: "Compute HMAC SHA-256 of the raw request body using your webhook secret and compare." */
function posthawkSignatureMatches(secret: string, rawBody: Buffer, header: string): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`);
  const got = Buffer.from(header);
  return got.length === expected.length && timingSafeEqual(got, expected);
}

describe('seed: posthawk-webhooks-reference', () => {
  let stack: Stack;
  let acct: TestAccount;
  const path = '/api/webhooks/posthawk';
  const hits = () => stack.receiver.requests.filter((r) => r.path === path);
  /** `-H "Content-Type: application/json" -H "X-API-Key: your_api_key" [-d '…']` */
  const call = (method: string, url: string, rawBody?: string) =>
    stack.api(method, url, {
      key: acct.live_key,
      auth: 'x-api-key',
      ...(rawBody === undefined ? {} : { rawBody, headers: { 'content-type': 'application/json' } }),
    });

  before(async () => {
    stack = await startStack({ certNames: ['yourapp.com'] });
    stack.dns.setA('yourapp.com', ['127.0.0.1']);
    acct = await stack.createAccount('posthawk');
    stack.receiver.respond(() => ({ status: 200, headers: { 'content-type': 'text/plain' }, body: 'OK' }));
  });
  after(async () => stack.close());

  it('list, create, list, update, test, a signed event, delete, list — with X-API-Key', async () => {
    // GET /v1/webhooks: all endpoints of the workspace, a bare array
    const empty = await call('GET', '/v1/webhooks');
    assert.equal(empty.status, 200, empty.text);
    assert.deepEqual(empty.body, []);

    // POST /v1/webhooks: "A signing secret is auto-generated and returned"
    const created = await call('POST', '/v1/webhooks', CREATE_BODY(stack.receiver.port));
    assert.equal(created.status, 201, created.text);
    const w = created.body;
    for (const k of ENDPOINT_KEYS) assert.ok(k in w, `the endpoint has ${k}`);
    assert.equal(typeof w.id, 'string');
    assert.equal(w.url, `https://yourapp.com:${stack.receiver.port}/api/webhooks/posthawk`);
    assert.match(w.secret, /^whsec_/);
    assert.deepEqual(w.events, ['delivery', 'bounce', 'complaint']);
    assert.equal(w.enabled, true);
    assert.equal(w.description, 'Production webhook');
    assert.match(w.created_at, ISO);
    assert.match(w.updated_at, ISO);

    const listed = await call('GET', '/v1/webhooks');
    assert.equal(listed.status, 200, listed.text);
    assert.ok(Array.isArray(listed.body));
    assert.equal(listed.body.length, 1);
    assert.equal(listed.body[0].id, w.id);
    assert.equal(listed.body[0].secret, w.secret, 'the list shows the secret, as the reference does');

    // PATCH /v1/webhooks/:id
    await sleep(5);
    const patched = await call('PATCH', `/v1/webhooks/${w.id}`, PATCH_BODY);
    assert.equal(patched.status, 200, patched.text);
    for (const k of ENDPOINT_KEYS) assert.ok(k in patched.body, `the updated endpoint has ${k}`);
    assert.equal(patched.body.id, w.id);
    assert.equal(patched.body.url, w.url);
    assert.equal(patched.body.secret, w.secret);
    assert.deepEqual(patched.body.events, ['delivery', 'bounce', 'complaint', 'open', 'click']);
    assert.equal(patched.body.enabled, true);
    assert.equal(patched.body.description, 'Updated production webhook');
    assert.equal(patched.body.created_at, w.created_at);
    assert.ok(Date.parse(patched.body.updated_at) >= Date.parse(w.updated_at));

    // POST /v1/webhooks/:id/test: reachable and correctly configured
    const tested = await call('POST', `/v1/webhooks/${w.id}/test`);
    assert.equal(tested.status, 200, tested.text);
    assert.deepEqual(tested.body, { success: true, status: 200, body: 'OK' });
    assert.equal(hits().length, 1);

    // an email event of a subscribed type: a signed POST with the headers the reference lists
    const ev = await stack.api('POST', '/v1/events', {
      key: acct.live_key,
      body: { type: 'delivery', body: { email_id: 'em_123', to: 'someone@example.test', status: 'delivered' } },
    });
    assert.equal(ev.status, 202, ev.text);
    assert.equal(ev.body.deliveries.length, 1);
    const req = await waitFor(() => hits().find((r) => r.headers['x-harepost-queue-id'] === ev.body.deliveries[0].queue_id), {
      message: 'the event was not delivered',
    });
    assert.equal(req.method, 'POST');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(req.body.toString('utf8')), { email_id: 'em_123', to: 'someone@example.test', status: 'delivered' });
    assert.equal(req.headers['x-posthawk-event'], 'delivery');
    assert.equal(req.headers['user-agent'], 'Posthawk-Webhook/1.0');
    const signature = req.headers['x-posthawk-signature'];
    assert.match(signature ?? '', /^sha256=[0-9a-f]{64}$/, `X-Posthawk-Signature: ${signature}`);
    assert.equal(posthawkSignatureMatches(w.secret, req.body, signature!), true, 'HMAC-SHA256(secret, raw body) matches');
    assert.equal(await octokitVerify(w.secret, req.body.toString('utf8'), signature!), true, "and a verifier nobody here wrote agrees");
    assert.equal(posthawkSignatureMatches(`${w.secret}x`, req.body, signature!), false, 'another secret does not match');
    // the event type not subscribed to goes nowhere
    const other = await stack.api('POST', '/v1/events', { key: acct.live_key, body: { type: 'reject', body: {} } });
    assert.deepEqual(other.body.deliveries, []);

    // DELETE /v1/webhooks/:id: it "will immediately stop receiving events"
    const deleted = await call('DELETE', `/v1/webhooks/${w.id}`);
    assert.equal(deleted.status, 200, deleted.text);
    assert.deepEqual(deleted.body, { success: true });
    const afterDelete = await stack.api('POST', '/v1/events', { key: acct.live_key, body: { type: 'delivery', body: {} } });
    assert.deepEqual(afterDelete.body.deliveries, []);
    assert.deepEqual((await call('GET', '/v1/webhooks')).body, []);
    assert.equal((await call('PATCH', `/v1/webhooks/${w.id}`, PATCH_BODY)).status, 404);
  });

  it('"API Key": every endpoint is 401 without one', async () => {
    for (const [method, url] of [
      ['GET', '/v1/webhooks'],
      ['POST', '/v1/webhooks'],
      ['PATCH', '/v1/webhooks/uuid'],
      ['POST', '/v1/webhooks/uuid/test'],
      ['DELETE', '/v1/webhooks/uuid'],
    ] as const) {
      const r = await stack.api(method, url, {});
      assert.equal(r.status, 401, `${method} ${url}: ${r.text}`);
      assert.equal(r.body.error.code, 'unauthorized');
    }
  });
});
