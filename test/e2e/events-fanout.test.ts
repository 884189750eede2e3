/**
 * Fan-out (SPEC §10, issue 4): wildcard matching proven by the requests that actually arrive,
 * one event to ten destinations each signed with its own secret, events that match nothing,
 * a destination's own headers and delivery policy, secret rotation and the synchronous test call.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { startReceiver, type Receiver, type RecordedRequest, type Reply } from '../support/receiver.js';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { sleep, waitFor } from '../support/wait.js';

const verify = (secret: string, req: RecordedRequest): unknown =>
  new Webhook(secret).verify(req.body.toString('utf8'), req.headers as Record<string, string>);

describe('events: matching and fan-out', () => {
  let stack: Stack;
  let acct: TestAccount;
  const extra: Receiver[] = [];
  const scripts = new Map<string, (req: RecordedRequest) => Reply>();

  before(async () => {
    stack = await startStack();
    acct = await stack.createAccount('fanout');
    stack.receiver.respond((req) => {
      const script = scripts.get(req.path.split('?')[0]!);
      return script ? script(req) : { status: 200, body: 'ok' };
    });
  });
  after(async () => {
    await stack.close();
    await Promise.all(extra.map((r) => r.close()));
  });

  const hits = (path: string) => stack.receiver.requests.filter((r) => r.path.split('?')[0] === path);

  async function newDestination(key: string, url: string, body: Record<string, unknown> = {}) {
    const r = await stack.api('POST', '/v1/destinations', { key, body: { url, ...body } });
    assert.equal(r.status, 201, r.text);
    return r.body as { id: string; signing_secret: string; events: string[]; headers: Record<string, string>; delivery: any };
  }

  async function publish(key: string, type: string, body: unknown = { type }) {
    const r = await stack.api('POST', '/v1/events', { key, body: { type, body } });
    assert.equal(r.status, 202, r.text);
    return r.body as { id: string; type: string; deliveries: { queue_id: string; destination_id: string }[] };
  }

  async function settled(key: string, id: string, timeoutMs = 10_000) {
    return waitFor(
      async () => {
        const r = await stack.api('GET', `/v1/deliveries/${id}`, { key });
        return ['delivered', 'rejected', 'dead_letter'].includes(r.body?.status) ? r.body : undefined;
      },
      { timeoutMs, message: `delivery ${id} did not settle` },
    );
  }

  it('order.* gets order.created and order.item.added but not orders.created or order; * gets all; exact only its type', async () => {
    const key = acct.live_key;
    const prefix = await newDestination(key, stack.target('/w-prefix', 'prefix.example.test'), { events: ['order.*'] });
    const all = await newDestination(key, stack.target('/w-all', 'all.example.test'), { events: ['*'] });
    const exact = await newDestination(key, stack.target('/w-exact', 'exact.example.test'), { events: ['order.created'] });
    // overlapping subscriptions still mean one delivery per event
    const both = await newDestination(key, stack.target('/w-both', 'both.example.test'), { events: ['order.*', 'order.created'] });

    const expected: Record<string, string[]> = {
      'order.created': [prefix.id, all.id, exact.id, both.id],
      'order.item.added': [prefix.id, all.id, both.id],
      'orders.created': [all.id],
      order: [all.id],
      'ordering.x': [all.id],
      'order:created': [all.id],
    };
    const published: Record<string, Awaited<ReturnType<typeof publish>>> = {};
    for (const [type, dests] of Object.entries(expected)) {
      const e = await publish(key, type);
      published[type] = e;
      assert.deepEqual(e.deliveries.map((d) => d.destination_id).sort(), [...dests].sort(), `destinations for ${type}`);
      assert.equal(new Set(e.deliveries.map((d) => d.queue_id)).size, dests.length);
    }

    const total = Object.values(expected).reduce((n, d) => n + d.length, 0);
    const paths = ['/w-prefix', '/w-all', '/w-exact', '/w-both'];
    await waitFor(() => paths.reduce((n, p) => n + hits(p).length, 0) >= total, { message: 'not every matching delivery arrived' });
    await sleep(300);
    const typesAt = (p: string) => hits(p).map((r) => r.headers['x-harepost-event']).sort();
    assert.deepEqual(typesAt('/w-prefix'), ['order.created', 'order.item.added']);
    assert.deepEqual(typesAt('/w-both'), ['order.created', 'order.item.added']);
    assert.deepEqual(typesAt('/w-exact'), ['order.created']);
    assert.deepEqual(typesAt('/w-all'), Object.keys(expected).sort());

    const secrets = new Map([prefix, all, exact, both].map((d) => [d.id, d.signing_secret]));
    for (const [type, e] of Object.entries(published)) {
      for (const d of e.deliveries) {
        const req = stack.receiver.requests.find((r) => r.headers['x-harepost-queue-id'] === d.queue_id);
        assert.ok(req, `delivery ${d.queue_id} of ${type} arrived`);
        assert.equal(req.headers['x-harepost-event'], type);
        assert.equal(req.headers['x-harepost-event-id'], e.id);
        assert.deepEqual(verify(secrets.get(d.destination_id)!, req), { type });
      }
    }
  });

  it('one event reaches 10 destinations on 10 receivers, each once, each signed with its own secret only', async () => {
    const a = await stack.createAccount('fan out ten');
    const key = a.live_key;
    const receivers: Receiver[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await startReceiver({ tls: { certPem: stack.pki.certPem, keyPem: stack.pki.keyPem } });
      extra.push(r);
      receivers.push(r);
    }
    const dests: Awaited<ReturnType<typeof newDestination>>[] = [];
    for (let i = 0; i < 10; i++) {
      dests.push(await newDestination(key, receivers[i]!.url('/fan', `d${i}.example.test`), { events: ['fan.out'], name: `d${i}` }));
    }
    assert.equal(new Set(dests.map((d) => d.signing_secret)).size, 10, 'ten different secrets');

    const e = await publish(key, 'fan.out', { n: 1 });
    assert.equal(e.deliveries.length, 10);
    assert.deepEqual(e.deliveries.map((d) => d.destination_id).sort(), dests.map((d) => d.id).sort());
    assert.equal(new Set(e.deliveries.map((d) => d.queue_id)).size, 10);

    await Promise.all(receivers.map((r) => r.waitForRequests(1, 10_000)));
    await sleep(300);
    for (let i = 0; i < 10; i++) {
      const r = receivers[i]!;
      assert.equal(r.requests.length, 1, `receiver d${i} got exactly one request`);
      const req = r.requests[0]!;
      assert.equal(req.path, '/fan');
      assert.equal(req.headers['host']?.split(':')[0], `d${i}.example.test`);
      const mine = e.deliveries.find((d) => d.destination_id === dests[i]!.id)!;
      assert.equal(req.headers['x-harepost-queue-id'], mine.queue_id);
      assert.equal(req.headers['x-harepost-event-id'], e.id);
      assert.deepEqual(verify(dests[i]!.signing_secret, req), { n: 1 });
      assert.equal(req.headers['webhook-signature']!.split(' ').length, 1, 'one secret signs');
      const neighbour = dests[(i + 1) % 10]!.signing_secret;
      assert.throws(() => verify(neighbour, req), /No matching signature/, `d${i} must not verify with d${(i + 1) % 10}'s secret`);
    }

    const byEvent = await waitFor(async () => {
      const r = await stack.api('GET', `/v1/deliveries?event_id=${e.id}&limit=100`, { key });
      return r.body.data.length === 10 && r.body.data.every((d: any) => d.status === 'delivered') ? r.body.data : undefined;
    });
    assert.deepEqual(byEvent.map((d: any) => d.queue_id).sort(), e.deliveries.map((d) => d.queue_id).sort());
    const got = await stack.api('GET', `/v1/events/${e.id}`, { key });
    assert.deepEqual(
      got.body.deliveries.map((d: any) => [d.queue_id, d.destination_id]),
      e.deliveries.map((d) => [d.queue_id, d.destination_id]),
      'GET /v1/events/{id} lists the same deliveries as the 202, in the same order',
    );
    assert.ok(got.body.deliveries.every((d: any) => d.status === 'delivered'), got.text);
  });

  it('an event that matches nothing is accepted with deliveries: [] and sends nothing', async () => {
    const a = await stack.createAccount('no match');
    const key = a.live_key;
    await newDestination(key, stack.target('/nomatch', 'nomatch.example.test'), { events: ['x.y', 'q.*'] });
    const before = stack.receiver.requests.length;
    for (const type of ['x.z', 'x', 'x.y.z', 'q', 'qq.a']) {
      const e = await publish(key, type);
      assert.deepEqual(e.deliveries, [], type);
      const got = await stack.api('GET', `/v1/events/${e.id}`, { key });
      assert.equal(got.status, 200, got.text);
      assert.deepEqual(got.body.deliveries, []);
    }
    await sleep(300);
    assert.equal(hits('/nomatch').length, 0);
    assert.equal(stack.receiver.requests.length, before);
    assert.deepEqual((await stack.api('GET', '/v1/deliveries', { key })).body.data, []);
  });

  it("sends the destination's own headers (stripped as for /v1/send) and applies its delivery policy", async () => {
    const key = (await stack.createAccount('policy')).live_key;
    scripts.set('/policy', () => ({ status: 500, body: 'nope' }));
    const d = await newDestination(key, stack.target('/policy', 'policy.example.test'), {
      events: ['policy.test'],
      headers: {
        'Content-Type': 'application/vnd.acme+json',
        'X-Tenant': 'acme',
        Authorization: 'Bearer leaked',
        'X-Harepost-Event': 'spoofed',
        'Webhook-Id': 'spoofed',
        'User-Agent': 'spoofed',
        Host: 'evil.example.test',
      },
      delivery: { max_attempts: 1, backoff: 'fixed', base_delay_ms: 100, jitter: 'none', timeout_ms: 2000 },
    });
    assert.deepEqual(d.headers, { 'Content-Type': 'application/vnd.acme+json', 'X-Tenant': 'acme' });
    assert.equal(d.delivery.max_attempts, 1);
    assert.equal(d.delivery.timeout_ms, 2000);

    const e = await publish(key, 'policy.test', { p: 1 });
    assert.equal(e.deliveries.length, 1);
    const done = await settled(key, e.deliveries[0]!.queue_id);
    assert.equal(done.status, 'dead_letter');
    assert.equal(done.last_status, 500);
    assert.equal(done.attempts.length, 1);
    assert.equal(done.attempts[0].outcome, 'failed');
    assert.equal(done.delivery.max_attempts, 1);
    assert.equal(done.delivery.timeout_ms, 2000);
    await sleep(400);
    assert.equal(hits('/policy').length, 1, 'max_attempts 1: one request, no retry');
    const req = hits('/policy')[0]!;
    assert.equal(req.headers['x-tenant'], 'acme');
    assert.equal(req.headers['content-type'], 'application/vnd.acme+json', "the destination's Content-Type wins");
    assert.equal(req.headers['authorization'], undefined);
    assert.equal(req.headers['x-harepost-event'], 'policy.test');
    assert.equal(req.headers['webhook-id'], e.deliveries[0]!.queue_id);
    assert.equal(req.headers['user-agent'], 'Harepost/1.0');
    assert.equal(req.headers['host']?.split(':')[0], 'policy.example.test');
    assert.deepEqual(verify(d.signing_secret, req), { p: 1 });

    // PATCHed headers are used for the next deliveries
    const p = await stack.api('PATCH', `/v1/destinations/${d.id}`, { key, body: { headers: { 'X-Tenant': 'globex', 'X-Other': '1' } } });
    assert.equal(p.status, 200, p.text);
    assert.deepEqual(p.body.headers, { 'X-Tenant': 'globex', 'X-Other': '1' });
    scripts.set('/policy', () => ({ status: 200 }));
    const e2 = await publish(key, 'policy.test', { p: 2 });
    assert.equal((await settled(key, e2.deliveries[0]!.queue_id)).status, 'delivered');
    const req2 = hits('/policy')[1]!;
    assert.equal(req2.headers['x-tenant'], 'globex');
    assert.equal(req2.headers['x-other'], '1');
  });

  it('rotate-secret returns a new secret; deliveries right after verify with both the old and the new one', async () => {
    const key = (await stack.createAccount('rotation')).live_key;
    const d = await newDestination(key, stack.target('/rotate', 'rotate.example.test'), { events: ['rot.*'] });
    const old = d.signing_secret;
    const e1 = await publish(key, 'rot.before', { when: 'before' });
    await waitFor(() => hits('/rotate').length >= 1);
    const beforeReq = hits('/rotate')[0]!;
    assert.deepEqual(verify(old, beforeReq), { when: 'before' });

    const rotatedAt = Date.now();
    const rot = await stack.api('POST', `/v1/destinations/${d.id}/rotate-secret`, { key });
    assert.equal(rot.status, 200, rot.text);
    assert.equal(rot.body.id, d.id);
    assert.match(rot.body.signing_secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.notEqual(rot.body.signing_secret, old);
    const expires = Date.parse(rot.body.previous_secret_expires_at);
    assert.ok(Math.abs(expires - (rotatedAt + 24 * 3600 * 1000)) < 5000, rot.text);
    const fresh: string = rot.body.signing_secret;

    const e2 = await publish(key, 'rot.after', { when: 'after' });
    await waitFor(() => hits('/rotate').length >= 2);
    const afterReq = hits('/rotate')[1]!;
    assert.equal(afterReq.headers['x-harepost-event-id'], e2.id);
    assert.equal(afterReq.headers['webhook-signature']!.split(' ').length, 2, 'old and new signatures both sent');
    assert.deepEqual(verify(fresh, afterReq), { when: 'after' });
    assert.deepEqual(verify(old, afterReq), { when: 'after' });
    assert.throws(() => verify(fresh, beforeReq), /No matching signature/);
    assert.notEqual(e1.id, e2.id);

    // the webhooks view shows the current secret
    const wh = await stack.api('GET', `/v1/webhooks/${d.id}`, { key });
    assert.equal(wh.status, 200, wh.text);
    assert.equal(wh.body.secret, fresh);
    const unknown = await stack.api('POST', '/v1/destinations/dest_doesnotexist/rotate-secret', { key });
    assert.equal(unknown.status, 404, unknown.text);
  });

  it('POST /v1/destinations/{id}/test: one synchronous signed request; success and status mirror the answer', async () => {
    const key = acct.live_key;
    scripts.set('/t-ok', () => ({ status: 200, body: 'pong' }));
    scripts.set('/t-fail', () => ({ status: 500, body: 'boom' }));
    const ok = await newDestination(key, stack.target('/t-ok', 'testcall.example.test'), { headers: { 'X-Tenant': 'acme' } });
    const fail = await newDestination(key, stack.target('/t-fail', 'testcall.example.test'));

    const r = await stack.api('POST', `/v1/destinations/${ok.id}/test`, { key });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, { success: true, status: 200, body: 'pong' });
    assert.equal(hits('/t-ok').length, 1, 'the request was made before the API answered, exactly once');
    const req = hits('/t-ok')[0]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.headers['x-harepost-event'], 'harepost.test');
    assert.match(req.headers['x-harepost-event-id'] ?? '', /^evt_/);
    assert.equal(req.headers['x-tenant'], 'acme');
    assert.equal(req.headers['user-agent'], 'Harepost/1.0');
    const payload = verify(ok.signing_secret, req) as any;
    assert.equal(payload.type, 'harepost.test');
    assert.throws(() => verify(fail.signing_secret, req), /No matching signature/);

    const f = await stack.api('POST', `/v1/destinations/${fail.id}/test`, { key });
    assert.equal(f.status, 200, f.text);
    assert.deepEqual(f.body, { success: false, status: 500, body: 'boom' });
    await sleep(300);
    assert.equal(hits('/t-fail').length, 1, 'a failed test is not retried');
    assert.doesNotThrow(() => verify(fail.signing_secret, hits('/t-fail')[0]!));

    // a test call is not a delivery and not an event
    assert.deepEqual((await stack.api('GET', `/v1/deliveries?destination_id=${ok.id}`, { key })).body.data, []);
    assert.deepEqual((await stack.api('GET', `/v1/deliveries?destination_id=${fail.id}`, { key })).body.data, []);
    const events = (await stack.api('GET', '/v1/events?limit=100', { key })).body.data;
    assert.ok(!events.some((e: any) => e.type === 'harepost.test'), 'no event recorded for a test call');

    const unknown = await stack.api('POST', '/v1/destinations/dest_doesnotexist/test', { key });
    assert.equal(unknown.status, 404, unknown.text);
  });
});
