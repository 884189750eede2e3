/**
 * The posthawk-compatible view (seeds/posthawk-webhooks-reference.txt, SPEC §10): its six calls
 * with X-API-Key auth and its shapes, and proof that /v1/webhooks and /v1/destinations are the
 * same objects — created, edited and deleted either way, delivering events either way.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { verify as verifySha256 } from '@octokit/webhooks-methods';
import type { RecordedRequest, Reply } from '../support/receiver.js';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { sleep, waitFor } from '../support/wait.js';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const SECRET = /^whsec_[A-Za-z0-9+/]{43}=$/;
const WEBHOOK_KEYS = ['created_at', 'description', 'enabled', 'events', 'id', 'secret', 'signature', 'updated_at', 'url'];

/**
 * What a receiver written from the reference does: HMAC-SHA256 of the raw body with the secret,
 * compared with X-Posthawk-Signature (`sha256=<hex>`) — checked by @octokit/webhooks-methods.
 * Returns the parsed body; throws when the signature does not match.
 */
async function verify(secret: string, req: RecordedRequest): Promise<unknown> {
  const raw = req.body.toString('utf8');
  if (!(await verifySha256(secret, raw, req.headers['x-posthawk-signature'] ?? ''))) throw new Error('X-Posthawk-Signature does not match');
  assert.equal(req.headers['user-agent'], 'Posthawk-Webhook/1.0');
  return JSON.parse(raw);
}

describe('events: the posthawk webhooks view', () => {
  let stack: Stack;
  let acct: TestAccount;
  const scripts = new Map<string, (req: RecordedRequest) => Reply>();

  before(async () => {
    stack = await startStack();
    acct = await stack.createAccount('posthawk');
    stack.receiver.respond((req) => {
      const script = scripts.get(req.path.split('?')[0]!);
      return script ? script(req) : { status: 200, body: 'ok' };
    });
  });
  after(async () => stack.close());

  const hits = (path: string) => stack.receiver.requests.filter((r) => r.path.split('?')[0] === path);
  /** Every call in this file authenticates like the reference: X-API-Key. */
  const call = (method: string, path: string, body?: unknown, key = acct.live_key) =>
    stack.api(method, path, body === undefined ? { key, auth: 'x-api-key' } : { key, body, auth: 'x-api-key' });

  function assertBadRequest(r: { status: number; body: any; text: string }, field: string, what: string) {
    assert.equal(r.status, 400, `${what}: ${r.text}`);
    assert.equal(r.body?.error?.code, 'invalid_request', `${what}: ${r.text}`);
    assert.equal(r.body.error.field, field, `${what}: ${r.text}`);
  }

  it("runs the reference's six calls: list, create, update, test, delete, list", async () => {
    scripts.set('/api/webhooks/posthawk', () => ({ status: 200, headers: { 'content-type': 'text/plain' }, body: 'OK' }));
    const url = stack.target('/api/webhooks/posthawk', 'yourapp.example.test');

    // GET /v1/webhooks → a bare array
    const empty = await call('GET', '/v1/webhooks');
    assert.equal(empty.status, 200, empty.text);
    assert.deepEqual(empty.body, []);

    // POST /v1/webhooks
    const created = await call('POST', '/v1/webhooks', {
      url,
      events: ['delivery', 'bounce', 'complaint'],
      description: 'Production webhook',
    });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(Object.keys(created.body).sort(), WEBHOOK_KEYS);
    const w = created.body;
    assert.match(w.id, /^dest_/);
    assert.equal(w.url, url);
    assert.match(w.secret, SECRET);
    assert.deepEqual(w.events, ['delivery', 'bounce', 'complaint']);
    assert.equal(w.enabled, true);
    assert.equal(w.description, 'Production webhook');
    assert.equal(w.signature, 'posthawk', 'endpoints made through the posthawk view sign as posthawk does');
    assert.match(w.created_at, ISO);
    assert.match(w.updated_at, ISO);
    assert.equal(w.updated_at, w.created_at);

    const listed = await call('GET', '/v1/webhooks');
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body, [w], 'the list shows the same object, secret included');

    // PATCH /v1/webhooks/:id
    await sleep(15);
    const patched = await call('PATCH', `/v1/webhooks/${w.id}`, {
      events: ['delivery', 'bounce', 'complaint', 'open', 'click'],
      description: 'Updated production webhook',
    });
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual(Object.keys(patched.body).sort(), WEBHOOK_KEYS);
    assert.equal(patched.body.id, w.id);
    assert.equal(patched.body.url, url);
    assert.equal(patched.body.secret, w.secret);
    assert.deepEqual(patched.body.events, ['delivery', 'bounce', 'complaint', 'open', 'click']);
    assert.equal(patched.body.enabled, true);
    assert.equal(patched.body.description, 'Updated production webhook');
    assert.equal(patched.body.created_at, w.created_at);
    assert.ok(Date.parse(patched.body.updated_at) > Date.parse(w.updated_at), `updated_at moves: ${w.updated_at} → ${patched.body.updated_at}`);

    // POST /v1/webhooks/:id/test
    const tested = await call('POST', `/v1/webhooks/${w.id}/test`);
    assert.equal(tested.status, 200, tested.text);
    assert.deepEqual(tested.body, { success: true, status: 200, body: 'OK' });
    assert.equal(hits('/api/webhooks/posthawk').length, 1);
    const testReq = hits('/api/webhooks/posthawk')[0]!;
    assert.equal(testReq.method, 'POST');
    assert.equal(testReq.headers['content-type'], 'application/json');
    assert.equal(testReq.headers['x-posthawk-event'], 'harepost.test');
    assert.equal(((await verify(w.secret, testReq)) as any).type, 'harepost.test');

    // DELETE /v1/webhooks/:id
    const deleted = await call('DELETE', `/v1/webhooks/${w.id}`);
    assert.equal(deleted.status, 200, deleted.text);
    assert.deepEqual(deleted.body, { success: true });

    const after = await call('GET', '/v1/webhooks');
    assert.equal(after.status, 200);
    assert.deepEqual(after.body, []);
    assert.equal((await call('GET', `/v1/webhooks/${w.id}`)).status, 404);
    assert.equal((await call('DELETE', `/v1/webhooks/${w.id}`)).status, 404);
    assert.equal((await call('PATCH', `/v1/webhooks/${w.id}`, { description: 'x' })).status, 404);
    assert.equal((await call('POST', `/v1/webhooks/${w.id}/test`)).status, 404);
    // deleted means no more events
    assert.deepEqual((await call('POST', '/v1/events', { type: 'delivery', body: {} })).body.deliveries, []);
  });

  it('POST requires url and a non-empty events array (400 naming the field); PATCH validates too', async () => {
    const a = await stack.createAccount('posthawk validation');
    const key = a.live_key;
    const url = stack.target('/ph-bad');
    const cases: [unknown, string][] = [
      [{ events: ['delivery'] }, 'url'],
      [{ url: null, events: ['delivery'] }, 'url'],
      [{ url: 'http://yourapp.example.test/x', events: ['delivery'] }, 'url'],
      [{ url: 'https://u:p@yourapp.example.test/x', events: ['delivery'] }, 'url'],
      [{ url: 'https://127.0.0.2/x', events: ['delivery'] }, 'url'],
      [{ url }, 'events'],
      [{ url, events: [] }, 'events'],
      [{ url, events: null }, 'events'],
      [{ url, events: 'delivery' }, 'events'],
      [{ url, events: ['delivery'], enabled: 'yes' }, 'enabled'],
      [{ url, events: ['delivery'], description: 5 }, 'description'],
    ];
    for (const [body, field] of cases) {
      assertBadRequest(await call('POST', '/v1/webhooks', body, key), field, `POST ${JSON.stringify(body)}`);
    }
    const badEvent = await call('POST', '/v1/webhooks', { url, events: ['delivery', 'bad event'] }, key);
    assert.equal(badEvent.status, 400, badEvent.text);
    assert.match(badEvent.body.error.field, /^events/);
    assert.deepEqual((await call('GET', '/v1/webhooks', undefined, key)).body, [], 'nothing was created');

    const ok = await call('POST', '/v1/webhooks', { url, events: ['delivery'] }, key);
    assert.equal(ok.status, 201, ok.text);
    assert.equal(ok.body.description, null);
    assert.equal(ok.body.enabled, true);
    assertBadRequest(await call('PATCH', `/v1/webhooks/${ok.body.id}`, { url: 'http://x.example.test/' }, key), 'url', 'PATCH http url');
    assertBadRequest(await call('PATCH', `/v1/webhooks/${ok.body.id}`, { enabled: 'no' }, key), 'enabled', 'PATCH enabled');
    const unchanged = await call('GET', `/v1/webhooks/${ok.body.id}`, undefined, key);
    assert.equal(unchanged.body.url, url);

    // PATCH enabled false/true through this view
    const off = await call('PATCH', `/v1/webhooks/${ok.body.id}`, { enabled: false }, key);
    assert.equal(off.status, 200, off.text);
    assert.equal(off.body.enabled, false);
    assert.deepEqual((await call('POST', '/v1/events', { type: 'delivery', body: {} }, key)).body.deliveries, []);
    const on = await call('PATCH', `/v1/webhooks/${ok.body.id}`, { enabled: true }, key);
    assert.equal(on.body.enabled, true);

    // the reference's auth: X-API-Key works, nothing / a wrong key is 401
    assert.equal((await stack.api('GET', '/v1/webhooks')).status, 401);
    assert.equal((await stack.api('GET', '/v1/webhooks', { key: 'hp_live_' + 'x'.repeat(32), auth: 'x-api-key' })).status, 401);
  });

  it('POST /v1/webhooks/:id/test reports a failing endpoint as success:false with its status and body', async () => {
    scripts.set('/ph-fail', () => ({ status: 500, body: 'Internal Server Error' }));
    const w = await call('POST', '/v1/webhooks', { url: stack.target('/ph-fail'), events: ['bounce'] });
    assert.equal(w.status, 201, w.text);
    const r = await call('POST', `/v1/webhooks/${w.body.id}/test`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, { success: false, status: 500, body: 'Internal Server Error' });
    assert.equal(hits('/ph-fail').length, 1);
  });

  it('a webhook created through /v1/webhooks is the destination of /v1/destinations, and vice versa', async () => {
    const a = await stack.createAccount('two views');
    const key = a.live_key;

    // created as a webhook …
    const w = (await call('POST', '/v1/webhooks', { url: stack.target('/views-w', 'w.example.test'), events: ['delivery', 'open'], description: 'made as webhook' }, key)).body;
    const asDest = await stack.api('GET', `/v1/destinations/${w.id}`, { key });
    assert.equal(asDest.status, 200, asDest.text);
    assert.equal(asDest.body.id, w.id);
    assert.equal(asDest.body.url, w.url);
    assert.deepEqual(asDest.body.events, ['delivery', 'open']);
    assert.equal(asDest.body.description, 'made as webhook');
    assert.equal(asDest.body.enabled, true);
    assert.equal(asDest.body.created_at, w.created_at);
    assert.deepEqual(
      (await stack.api('GET', `/v1/subscriptions?destination_id=${w.id}`, { key })).body.data.map((s: any) => s.event_type),
      ['delivery', 'open'],
    );
    // … edited as a destination …
    const p = await stack.api('PATCH', `/v1/destinations/${w.id}`, {
      key,
      body: { description: 'edited as destination', events: ['click'], url: stack.target('/views-w2', 'w.example.test') },
    });
    assert.equal(p.status, 200, p.text);
    const seen = await call('GET', `/v1/webhooks/${w.id}`, undefined, key);
    assert.equal(seen.body.description, 'edited as destination');
    assert.deepEqual(seen.body.events, ['click']);
    assert.equal(seen.body.url, stack.target('/views-w2', 'w.example.test'));
    assert.equal(seen.body.secret, w.secret);
    // … a subscription added through /v1/subscriptions shows in its events …
    assert.equal((await stack.api('POST', '/v1/subscriptions', { key, body: { destination_id: w.id, event_type: 'bounce' } })).status, 201);
    assert.deepEqual((await call('GET', '/v1/webhooks', undefined, key)).body.map((x: any) => x.events), [['click', 'bounce']]);
    // … and it receives events signed with the secret the webhooks view gave
    const e = await stack.api('POST', '/v1/events', { key, body: { type: 'bounce', body: { email: 'a@example.test' } } });
    assert.equal(e.status, 202, e.text);
    assert.deepEqual(e.body.deliveries.map((d: any) => d.destination_id), [w.id]);
    const req = await waitFor(() => hits('/views-w2')[0], { message: 'the event never reached the webhook URL' });
    assert.equal(req.headers['x-harepost-event'], 'bounce');
    assert.equal(req.headers['x-posthawk-event'], 'bounce');
    assert.deepEqual(await verify(w.secret, req), { email: 'a@example.test' });

    // created as a destination …
    const d = await stack.api('POST', '/v1/destinations', {
      key,
      body: { url: stack.target('/views-d', 'd.example.test'), name: 'made as destination', description: 'desc', events: ['send'] },
    });
    assert.equal(d.status, 201, d.text);
    const hook = await call('GET', `/v1/webhooks/${d.body.id}`, undefined, key);
    assert.equal(hook.status, 200, hook.text);
    assert.deepEqual(Object.keys(hook.body).sort(), WEBHOOK_KEYS);
    assert.equal(hook.body.secret, d.body.signing_secret, "the webhooks view's secret is the destination's signing_secret");
    assert.deepEqual(hook.body.events, ['send']);
    assert.equal(hook.body.description, 'desc');
    assert.equal(hook.body.url, d.body.url);
    const list = (await call('GET', '/v1/webhooks', undefined, key)).body;
    assert.deepEqual(list.map((x: any) => x.id), [w.id, d.body.id]);
    // … edited as a webhook …
    const wp = await call('PATCH', `/v1/webhooks/${d.body.id}`, { events: ['send', 'reject'], enabled: false }, key);
    assert.equal(wp.status, 200, wp.text);
    const destNow = await stack.api('GET', `/v1/destinations/${d.body.id}`, { key });
    assert.deepEqual(destNow.body.events, ['send', 'reject']);
    assert.equal(destNow.body.enabled, false);
    assert.equal(destNow.body.name, 'made as destination', 'fields the webhooks view does not know are kept');
    // … and deleted as a webhook: gone from both
    assert.deepEqual((await call('DELETE', `/v1/webhooks/${d.body.id}`, undefined, key)).body, { success: true });
    assert.equal((await stack.api('GET', `/v1/destinations/${d.body.id}`, { key })).status, 404);
    assert.deepEqual((await stack.api('GET', '/v1/destinations', { key })).body.data.map((x: any) => x.id), [w.id]);
    // a destination deleted as a destination leaves the webhooks list too
    assert.deepEqual((await stack.api('DELETE', `/v1/destinations/${w.id}`, { key })).body, { id: w.id, deleted: true });
    assert.deepEqual((await call('GET', '/v1/webhooks', undefined, key)).body, []);
  });
});
