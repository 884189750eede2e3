/**
 * GET /metrics (Prometheus text): the counters and gauges move as deliveries really happen, the
 * request histogram is labelled by route pattern (never a raw URL with ids), nothing secret is
 * exposed, the delivery-status gauges are cached, HAREPOST_METRICS_TOKEN guards the endpoint, and a
 * worker-only process serves it too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RecordedRequest } from '../support/receiver.js';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition. */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

class Scrape {
  readonly samples: Sample[];
  constructor(readonly text: string) {
    this.samples = parse(text);
  }
  /** The one sample named `name` whose labels include `labels`; 0 when there is none. */
  value(name: string, labels: Record<string, string> = {}): number {
    const found = this.samples.filter(
      (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
    );
    assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} matches ${found.length} series`);
    return found[0]?.value ?? 0;
  }
  has(name: string, labels: Record<string, string> = {}): boolean {
    return this.samples.some((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  }
}

/** Each path of the receiver answers as its name says: /fail 500, /slow after 1.5 s, the rest 200. */
function scriptReceiver(stack: Stack): void {
  stack.receiver.respond((req: RecordedRequest) => {
    const path = req.path.split('?')[0]!;
    if (path.startsWith('/fail')) return { status: 500, body: 'no' };
    if (path.startsWith('/slow')) return { status: 200, body: 'ok', delayMs: 1500 };
    return { status: 200, body: 'ok' };
  });
}

async function send(stack: Stack, key: string, target: string, extra: object = {}): Promise<string> {
  const r = await stack.api('POST', '/v1/send', { key, body: { target, body: { n: 1 }, ...extra } });
  assert.equal(r.status, 202, r.text);
  return r.body.queue_id as string;
}

async function settled(stack: Stack, key: string, id: string): Promise<string> {
  return waitFor(
    async () => {
      const r = await stack.api('GET', `/v1/deliveries/${id}`, { key });
      return ['delivered', 'rejected', 'dead_letter'].includes(r.body?.status) ? (r.body.status as string) : undefined;
    },
    { timeoutMs: 15_000, message: `delivery ${id} did not settle` },
  );
}

describe('metrics', () => {
  let stack: Stack;
  let acct: TestAccount;
  const ids: string[] = [];

  async function scrape(): Promise<Scrape> {
    const r = await stack.api('GET', '/metrics');
    assert.equal(r.status, 200, r.text);
    assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    return new Scrape(r.text);
  }

  before(async () => {
    // a short cache window, so the status gauges follow the store within the test
    stack = await startStack({ env: { HAREPOST_METRICS_CACHE_MS: '200' } });
    acct = await stack.createAccount();
    await stack.verifyDomain(acct.live_key, 'example.test');
    scriptReceiver(stack);
  });
  after(async () => stack.close());

  it('counters and gauges move as deliveries are accepted, attempted, delivered and dead-lettered', async () => {
    const m0 = await scrape();
    const N = 4;
    for (let i = 0; i < N; i++) ids.push(await send(stack, acct.live_key, stack.target(`/ok/${i}`)));
    const dead = await send(stack, acct.live_key, stack.target('/fail'), { delivery: { max_attempts: 1 } });
    ids.push(dead);
    for (const id of ids.slice(0, N)) assert.equal(await settled(stack, acct.live_key, id), 'delivered');
    assert.equal(await settled(stack, acct.live_key, dead), 'dead_letter');

    const deadBefore = m0.value('harepost_deliveries', { status: 'dead_letter' });
    // the status gauges are read from the store at most once per cache window (200 ms here)
    const m1 = await waitFor(
      async () => {
        const m = await scrape();
        return m.value('harepost_deliveries', { status: 'dead_letter' }) === deadBefore + 1 ? m : undefined;
      },
      { timeoutMs: 10_000, message: 'the dead_letter gauge did not reach +1' },
    );
    const delta = (name: string, labels: Record<string, string>) => m1.value(name, labels) - m0.value(name, labels);
    assert.equal(delta('harepost_deliveries_accepted_total', { source: 'send' }), N + 1);
    assert.equal(delta('harepost_deliveries_accepted_total', { source: 'event' }), 0);
    assert.equal(delta('harepost_attempts_total', { outcome: 'delivered' }), N);
    assert.equal(delta('harepost_attempts_total', { outcome: 'failed' }), 1);
    assert.equal(delta('harepost_attempt_duration_seconds_count', { outcome: 'delivered' }), N);
    assert.equal(delta('harepost_attempt_duration_seconds_count', { outcome: 'failed' }), 1);
    assert.ok(m1.value('harepost_attempt_duration_seconds_sum', { outcome: 'delivered' }) > 0);
    // nothing is left pending, and the gauge says so
    assert.equal(m1.value('harepost_deliveries', { status: 'queued' }), 0);
    assert.equal(m1.value('harepost_deliveries', { status: 'retrying' }), 0);
    assert.equal(m1.value('harepost_attempts_in_flight'), 0);
  });

  it('the request histogram has a series per route pattern and status, never a raw URL', async () => {
    const m = await scrape();
    const send202 = { method: 'POST', route: '/v1/send', status_code: '202' };
    assert.ok(m.value('harepost_http_request_duration_seconds_count', send202) >= 5);
    assert.ok(m.has('harepost_http_request_duration_seconds_bucket', { ...send202, le: '+Inf' }));
    const byId = { method: 'GET', route: '/v1/deliveries/:id', status_code: '200' };
    assert.ok(m.value('harepost_http_request_duration_seconds_count', byId) >= 5);
    const routes = new Set(
      m.samples.filter((s) => s.name === 'harepost_http_request_duration_seconds_count').map((s) => s.labels.route),
    );
    for (const route of routes) assert.ok(!/hr_|\?/.test(route!), `a raw URL in a route label: ${route}`);
    // an unknown URL is one series, whatever the URL
    await stack.api('GET', '/nowhere/hr_123');
    const after = await scrape();
    assert.ok(after.value('harepost_http_request_duration_seconds_count', { route: 'unmatched', status_code: '404' }) >= 1);
    assert.ok(!after.text.includes('/nowhere'));
  });

  it('event fan-out counts as source="event"; an idempotent replay counts nothing', async () => {
    const m0 = await scrape();
    const dest = await stack.api('POST', '/v1/destinations', { key: acct.live_key, body: { url: stack.target('/ev') } });
    assert.equal(dest.status, 201, dest.text);
    const sub = await stack.api('POST', '/v1/subscriptions', {
      key: acct.live_key,
      body: { destination_id: dest.body.id, event_type: 'order.*' },
    });
    assert.equal(sub.status, 201, sub.text);
    const ev = await stack.api('POST', '/v1/events', { key: acct.live_key, body: { type: 'order.created', body: { id: 1 } } });
    assert.equal(ev.status, 202, ev.text);

    const body = { target: stack.target('/ok/idem'), body: { n: 2 } };
    const headers = { 'idempotency-key': 'metrics-idem-1' };
    const first = await stack.api('POST', '/v1/send', { key: acct.live_key, body, headers });
    const again = await stack.api('POST', '/v1/send', { key: acct.live_key, body, headers });
    assert.equal(first.status, 202, first.text);
    assert.equal(again.headers['idempotent-replayed'], 'true');

    const m1 = await scrape();
    const delta = (source: string) =>
      m1.value('harepost_deliveries_accepted_total', { source }) - m0.value('harepost_deliveries_accepted_total', { source });
    assert.equal(delta('event'), 1);
    assert.equal(delta('send'), 1);
    await settled(stack, acct.live_key, ev.body.deliveries[0].queue_id);
    await settled(stack, acct.live_key, first.body.queue_id);
  });

  it('attempts in flight are a gauge that rises while a target is slow and falls after', async () => {
    const id = await send(stack, acct.live_key, stack.target('/slow'));
    await waitFor(async () => ((await scrape()).value('harepost_attempts_in_flight') === 1 ? true : undefined), {
      message: 'in-flight gauge never showed the slow attempt',
    });
    assert.equal(await settled(stack, acct.live_key, id), 'delivered');
    assert.equal((await scrape()).value('harepost_attempts_in_flight'), 0);
  });

  it('shows process metrics under the harepost_ prefix and nothing secret', async () => {
    const secret = await stack.api('GET', '/v1/signing-secret', { key: acct.live_key });
    assert.equal(secret.status, 200);
    const m = await scrape();
    assert.ok(m.has('harepost_process_cpu_user_seconds_total'));
    assert.ok(m.has('harepost_nodejs_heap_size_used_bytes'));
    for (const s of m.samples) assert.ok(s.name.startsWith('harepost_'), `unprefixed metric ${s.name}`);
    for (const needle of [acct.live_key, acct.test_key, acct.account_id, secret.body.secret as string, 'hp_live_', ...ids]) {
      assert.ok(!m.text.includes(needle), `the metrics text contains ${needle.slice(0, 12)}…`);
    }
    assert.ok(!/authorization|bearer/i.test(m.text));
  });
});

describe('metrics behind HAREPOST_METRICS_TOKEN, with the default cache window', () => {
  const TOKEN = 'metrics-token-for-tests-0123456789';
  let stack: Stack;
  let acct: TestAccount;
  const scrape = async () => {
    const r = await stack.api('GET', '/metrics', { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.status, 200, r.text);
    return new Scrape(r.text);
  };

  before(async () => {
    stack = await startStack({ env: { HAREPOST_METRICS_TOKEN: TOKEN, HAREPOST_METRICS_CACHE_MS: '3600000' } });
    acct = await stack.createAccount();
    await stack.verifyDomain(acct.live_key, 'example.test');
    scriptReceiver(stack);
  });
  after(async () => stack.close());

  it('answers 401 in the usual error shape without the token or with a wrong one, 200 with it', async () => {
    const attempts: Array<Record<string, string>> = [
      {},
      { authorization: 'Bearer wrong-token' },
      { authorization: `Bearer ${TOKEN}x` },
      { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` },
      { authorization: `Bearer ${acct.live_key}` }, // an API key is not the metrics token
      { 'x-api-key': TOKEN },
    ];
    for (const headers of attempts) {
      const r = await stack.api('GET', '/metrics', { headers });
      assert.equal(r.status, 401, JSON.stringify(headers));
      assert.equal(r.body.error.code, 'unauthorized');
      assert.equal(typeof r.body.error.message, 'string');
      assert.ok(!r.text.includes(TOKEN));
    }
    const ok = await scrape();
    assert.ok(ok.has('harepost_attempts_total', { outcome: 'delivered' }));
    assert.ok(!ok.text.includes(TOKEN));
    // the other unauthenticated endpoints stay open
    assert.equal((await stack.api('GET', '/healthz')).status, 200);
    assert.equal((await stack.api('GET', '/openapi.json')).status, 200);
  });

  it('reads the status gauges from the store once per cache window, while the counters move at once', async () => {
    const m0 = await scrape(); // fills the cache
    const id = await send(stack, acct.live_key, stack.target('/fail'), { delivery: { max_attempts: 1 } });
    assert.equal(await settled(stack, acct.live_key, id), 'dead_letter');
    assert.equal((await stack.hp.store.countPendingDeliveries()).dead_letter, m0.value('harepost_deliveries', { status: 'dead_letter' }) + 1);
    const m1 = await scrape();
    assert.equal(m1.value('harepost_attempts_total', { outcome: 'failed' }) - m0.value('harepost_attempts_total', { outcome: 'failed' }), 1);
    // still the cached count: the store was not asked again within the window
    assert.equal(m1.value('harepost_deliveries', { status: 'dead_letter' }), m0.value('harepost_deliveries', { status: 'dead_letter' }));
  });
});

describe('metrics on a worker-only process', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ env: { HAREPOST_ROLE: 'worker' } });
  });
  after(async () => stack.close());

  it('serves /metrics beside the health probes, and no API or reference', async () => {
    const r = await stack.api('GET', '/metrics');
    assert.equal(r.status, 200, r.text);
    const m = new Scrape(r.text);
    assert.ok(m.has('harepost_attempts_in_flight'));
    assert.ok(m.has('harepost_deliveries', { status: 'queued' }));
    assert.equal((await stack.api('GET', '/healthz')).status, 200);
    assert.equal((await stack.api('POST', '/v1/send', { body: {} })).status, 404);
    assert.equal((await stack.api('GET', '/openapi.json')).status, 404);
  });
});
