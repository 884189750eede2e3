/**
 * What happens to a delivery for every kind of answer a target can give (SPEC §5): each
 * outcome of the table, retries, Retry-After, timeouts, refused connections, redirects not
 * followed, dead letters after max_attempts, and the attempt records the API shows.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../support/free-port.js';
import type { Reply, RecordedRequest } from '../support/receiver.js';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

/** Each test gets its own path on the shared receiver and scripts the replies for it. */
function router(stack: Stack) {
  const scripts = new Map<string, Reply[]>();
  const counts = new Map<string, number>();
  stack.receiver.respond((req: RecordedRequest) => {
    const path = req.path.split('?')[0]!;
    const n = counts.get(path) ?? 0;
    counts.set(path, n + 1);
    const script = scripts.get(path);
    if (!script || script.length === 0) return { status: 200, body: 'ok' };
    return script[Math.min(n, script.length - 1)]!;
  });
  return {
    script(path: string, replies: Reply[]) {
      scripts.set(path, replies);
    },
    hits(path: string): RecordedRequest[] {
      return stack.receiver.requests.filter((r) => r.path.split('?')[0] === path);
    },
  };
}

const FAST = { base_delay_ms: 100, backoff: 'fixed', jitter: 'none', timeout_ms: 1000 };

describe('delivery outcomes', () => {
  let stack: Stack;
  let acct: TestAccount;
  let routes: ReturnType<typeof router>;

  before(async () => {
    stack = await startStack({ env: { HAREPOST_LEASE_MARGIN_MS: '1000' } });
    acct = await stack.createAccount();
    await stack.verifyDomain(acct.live_key, 'example.test');
    routes = router(stack);
  });
  after(async () => stack.close());

  async function send(target: string, delivery: Record<string, unknown> = FAST, extra: object = {}) {
    const r = await stack.api('POST', '/v1/send', {
      key: acct.live_key,
      body: { target, body: { hello: 'world' }, delivery, ...extra },
    });
    assert.equal(r.status, 202, r.text);
    return r.body.queue_id as string;
  }

  async function settled(id: string, timeoutMs = 15_000) {
    return waitFor(
      async () => {
        const r = await stack.api('GET', `/v1/deliveries/${id}`, { key: acct.live_key });
        return ['delivered', 'rejected', 'dead_letter'].includes(r.body.status) ? r.body : undefined;
      },
      { timeoutMs, message: `delivery ${id} did not settle` },
    );
  }

  it('2xx → delivered after one attempt, with the attempt recorded', async () => {
    routes.script('/ok', [{ status: 201, body: 'created!' }]);
    const id = await send(stack.target('/ok'));
    const d = await settled(id);
    assert.equal(d.status, 'delivered');
    assert.equal(d.last_status, 201);
    assert.equal(d.next_attempt_at, null);
    assert.equal(d.attempts.length, 1);
    const a = d.attempts[0];
    assert.equal(a.attempt, 1);
    assert.equal(a.outcome, 'delivered');
    assert.equal(a.http_status, 201);
    assert.equal(a.error, null);
    assert.equal(a.response_excerpt, 'created!');
    assert.equal(typeof a.latency_ms, 'number');
    assert.ok(a.latency_ms >= 0);
    assert.ok(!Number.isNaN(Date.parse(a.created_at)));
    assert.equal(routes.hits('/ok').length, 1);
  });

  it('5xx → retried → 2xx: delivered on the third attempt', async () => {
    routes.script('/flaky', [{ status: 500 }, { status: 503 }, { status: 200 }]);
    const id = await send(stack.target('/flaky'));
    const d = await settled(id);
    assert.equal(d.status, 'delivered');
    assert.deepEqual(
      d.attempts.map((a: { outcome: string; http_status: number }) => [a.outcome, a.http_status]),
      [
        ['failed', 500],
        ['failed', 503],
        ['delivered', 200],
      ],
    );
    const hits = routes.hits('/flaky');
    assert.deepEqual(
      hits.map((h) => h.headers['x-harepost-attempt']),
      ['1', '2', '3'],
    );
    assert.ok(hits.every((h) => h.headers['x-harepost-queue-id'] === id));
    // fixed backoff of 100 ms, no jitter: the retries are not earlier than that
    assert.ok(hits[1]!.receivedAt - hits[0]!.receivedAt >= 95);
  });

  it('other 4xx → rejected after exactly one attempt', async () => {
    routes.script('/reject', [{ status: 422, body: 'no thanks' }]);
    const id = await send(stack.target('/reject'));
    const d = await settled(id);
    assert.equal(d.status, 'rejected');
    assert.equal(d.attempts.length, 1);
    assert.equal(d.attempts[0].outcome, 'rejected');
    assert.equal(d.attempts[0].http_status, 422);
    assert.equal(d.attempts[0].response_excerpt, 'no thanks');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(routes.hits('/reject').length, 1);
  });

  for (const status of [408, 425, 429]) {
    it(`${status} is retried`, async () => {
      const path = `/retry-${status}`;
      routes.script(path, [{ status }, { status: 200 }]);
      const d = await settled(await send(stack.target(path)));
      assert.equal(d.status, 'delivered');
      assert.deepEqual(
        d.attempts.map((a: { outcome: string }) => a.outcome),
        ['failed', 'delivered'],
      );
    });
  }

  it('Retry-After in seconds is honoured (at least that long before the next attempt)', async () => {
    routes.script('/retry-after', [{ status: 429, headers: { 'retry-after': '2' } }, { status: 200 }]);
    const d = await settled(await send(stack.target('/retry-after')));
    assert.equal(d.status, 'delivered');
    const hits = routes.hits('/retry-after');
    assert.equal(hits.length, 2);
    assert.ok(hits[1]!.receivedAt - hits[0]!.receivedAt >= 1900, `gap ${hits[1]!.receivedAt - hits[0]!.receivedAt}`);
  });

  it('Retry-After as an HTTP date is honoured', async () => {
    const when = new Date(Date.now() + 3000).toUTCString(); // second resolution: ≥ 2 s away
    routes.script('/retry-date', [{ status: 503, headers: { 'retry-after': when } }, { status: 200 }]);
    const d = await settled(await send(stack.target('/retry-date')));
    assert.equal(d.status, 'delivered');
    const hits = routes.hits('/retry-date');
    assert.ok(hits[1]!.receivedAt - hits[0]!.receivedAt >= 1900, `gap ${hits[1]!.receivedAt - hits[0]!.receivedAt}`);
  });

  it('respect_retry_after: false ignores Retry-After', async () => {
    routes.script('/retry-ignored', [{ status: 429, headers: { 'retry-after': '30' } }, { status: 200 }]);
    const d = await settled(
      await send(stack.target('/retry-ignored'), { ...FAST, respect_retry_after: false }),
      5000,
    );
    assert.equal(d.status, 'delivered');
  });

  it('no answer within timeout_ms → timeout, retried', async () => {
    routes.script('/slow', [{ hang: true }, { status: 200 }]);
    const started = Date.now();
    const d = await settled(await send(stack.target('/slow'), { ...FAST, timeout_ms: 1000 }));
    assert.equal(d.status, 'delivered');
    assert.equal(d.attempts[0].outcome, 'timeout');
    assert.equal(d.attempts[0].http_status, null);
    assert.match(d.attempts[0].error, /time/i);
    assert.ok(d.attempts[0].latency_ms >= 950 && d.attempts[0].latency_ms < 5000, `${d.attempts[0].latency_ms}`);
    assert.ok(Date.now() - started >= 1000);
  });

  it('a slow body counts against timeout_ms too (connect to last byte)', async () => {
    routes.script('/slow-headers', [{ status: 200, delayMs: 2500 }]);
    const d = await settled(await send(stack.target('/slow-headers'), { ...FAST, timeout_ms: 1000, max_attempts: 1 }));
    assert.equal(d.status, 'dead_letter');
    assert.equal(d.attempts[0].outcome, 'timeout');
  });

  it('connection refused → network_error, retried until dead_letter', async () => {
    const closedPort = await freePort();
    const id = await send(`https://refused.example.test:${closedPort}/x`, { ...FAST, max_attempts: 2 });
    const d = await settled(id);
    assert.equal(d.status, 'dead_letter');
    assert.equal(d.attempts.length, 2);
    for (const a of d.attempts) {
      assert.equal(a.outcome, 'network_error');
      assert.match(a.error, /ECONNREFUSED/);
      assert.equal(a.http_status, null);
    }
  });

  it('DNS failure (NXDOMAIN) → network_error', async () => {
    stack.dns.setA('gone.example.test', () => []);
    stack.dns.remove('gone.example.test');
    // a name below a verified domain that the DNS server does not know
    stack.dns.setA('*.nx.example.test', []);
    const id = await send(`https://missing.nx.example.test:${stack.receiver.port}/x`, { ...FAST, max_attempts: 1 });
    const d = await settled(id);
    assert.equal(d.status, 'dead_letter');
    assert.equal(d.attempts[0].outcome, 'network_error');
  });

  it('3xx is not followed: failed, and the Location is never requested', async () => {
    routes.script('/moved', [{ status: 302, headers: { location: '/elsewhere' } }, { status: 200 }]);
    const d = await settled(await send(stack.target('/moved')));
    assert.equal(d.status, 'delivered');
    assert.equal(d.attempts[0].outcome, 'failed');
    assert.equal(d.attempts[0].http_status, 302);
    assert.equal(routes.hits('/elsewhere').length, 0);
    assert.equal(routes.hits('/moved').length, 2);
  });

  it('dead_letter after max_attempts failures, each attempt recorded in order', async () => {
    routes.script('/always-500', [{ status: 500, body: 'boom' }]);
    const d = await settled(await send(stack.target('/always-500'), { ...FAST, max_attempts: 3 }));
    assert.equal(d.status, 'dead_letter');
    assert.equal(d.next_attempt_at, null);
    assert.deepEqual(
      d.attempts.map((a: { attempt: number; outcome: string; response_excerpt: string }) => [
        a.attempt,
        a.outcome,
        a.response_excerpt,
      ]),
      [
        [1, 'failed', 'boom'],
        [2, 'failed', 'boom'],
        [3, 'failed', 'boom'],
      ],
    );
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(routes.hits('/always-500').length, 3);
  });

  it('a retrying delivery shows status retrying and when it is next due', async () => {
    routes.script('/later', [{ status: 500 }, { status: 200 }]);
    const id = await send(stack.target('/later'), { base_delay_ms: 60_000, backoff: 'fixed', jitter: 'none' });
    const d = await waitFor(async () => {
      const r = await stack.api('GET', `/v1/deliveries/${id}`, { key: acct.live_key });
      return r.body.status === 'retrying' ? r.body : undefined;
    });
    assert.equal(d.attempts.length, 1);
    const due = Date.parse(d.next_attempt_at) - Date.parse(d.attempts[0].created_at);
    assert.ok(due >= 59_000 && due <= 62_000, `next attempt in ${due} ms`);
    const list = await stack.api('GET', '/v1/deliveries?status=retrying', { key: acct.live_key });
    const row = list.body.data.find((x: { queue_id: string }) => x.queue_id === id);
    assert.equal(row.attempts, 1);
  });

  it('only the first 1 KiB of a response is kept', async () => {
    routes.script('/big', [{ status: 200, body: 'x'.repeat(200_000) }]);
    const d = await settled(await send(stack.target('/big')));
    assert.equal(d.status, 'delivered');
    assert.equal(d.attempts[0].response_excerpt, 'x'.repeat(1024));
  });
});

describe('address guard at delivery time', () => {
  let stack: Stack;
  let acct: TestAccount;
  let listener: Server;
  let connections = 0;
  let port: number;

  before(async () => {
    // Only 127.0.0.1 is exempt; 127.0.0.2 is loopback and so blocked. A listener there counts
    // connections: a broken guard would show up as a connection, never as traffic off this machine.
    stack = await startStack();
    acct = await stack.createAccount();
    await stack.verifyDomain(acct.live_key, 'example.test');
    listener = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.2', () => r()));
    port = (listener.address() as { port: number }).port;
  });
  after(async () => {
    await stack.close();
    await new Promise((r) => listener.close(r));
  });

  it('every resolved address blocked → blocked → dead_letter, zero connections made', async () => {
    stack.dns.setA('internal.example.test', ['127.0.0.2']);
    const r = await stack.api('POST', '/v1/send', {
      key: acct.live_key,
      body: { target: `https://internal.example.test:${port}/`, delivery: { max_attempts: 5 } },
    });
    assert.equal(r.status, 202);
    const d = await waitFor(async () => {
      const g = await stack.api('GET', `/v1/deliveries/${r.body.queue_id}`, { key: acct.live_key });
      return g.body.status === 'dead_letter' ? g.body : undefined;
    });
    assert.equal(d.attempts.length, 1);
    assert.equal(d.attempts[0].outcome, 'blocked');
    assert.equal(connections, 0);
  });
});
