/**
 * Overload: while the process cannot keep up (its event loop held busy, as a saturated CPU does),
 * the API sheds new work with 503 `overloaded` and Retry-After at once, /readyz answers 503, and
 * /healthz and /metrics keep answering. Callers that retry with their Idempotency-Key after the
 * burst are all accepted, and every accepted send is delivered exactly once per key.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { sleep, waitFor } from '../support/wait.js';

/** Holds the event loop busy `busyMs` out of every `busyMs + 2` ms until stopped: a saturated process. */
function saturate(busyMs: number): { stop: () => void } {
  let stopped = false;
  const spin = () => {
    if (stopped) return;
    const until = performance.now() + busyMs;
    while (performance.now() < until) {
      // busy: nothing else runs on this thread meanwhile
    }
    setTimeout(spin, 2);
  };
  setTimeout(spin, 0);
  return { stop: () => void (stopped = true) };
}

describe('overload: shed load instead of queueing it', () => {
  let stack: Stack;
  let acct: TestAccount;

  before(async () => {
    stack = await startStack({ env: { HAREPOST_MAX_EVENT_LOOP_DELAY_MS: '40' } });
    acct = await stack.createAccount();
    // starting up (certificates, migrations) kept the loop busy: wait until that is measured away
    await waitFor(async () => (await stack.api('GET', '/readyz')).status === 200, { timeoutMs: 10_000 });
    await stack.verifyDomain(acct.live_key, 'example.test');
  });
  after(async () => {
    await stack?.close();
  });

  const send = (key: string) =>
    stack.api('POST', '/v1/send', {
      key: acct.live_key,
      headers: { 'idempotency-key': key },
      body: { target: stack.target(`/hook/${key}`), body: { key } },
    });

  it('answers 503 overloaded with Retry-After while saturated, and accepts and delivers everything after', async () => {
    const before = await send('calm-0');
    assert.equal(before.status, 202, before.text);

    const busy = saturate(80);
    const keys = Array.from({ length: 40 }, (_, i) => `burst-${i}`);
    const first = new Map<string, Awaited<ReturnType<typeof send>>>();
    let readyDuring: number;
    let healthDuring: number;
    let metricsDuring: number;
    try {
      await waitFor(async () => (await stack.api('GET', '/readyz')).status === 503, {
        timeoutMs: 10_000,
        message: '/readyz never turned 503 while the process was saturated',
      });
      const answers = await Promise.all(keys.map((k) => send(k)));
      keys.forEach((k, i) => first.set(k, answers[i]!));
      readyDuring = (await stack.api('GET', '/readyz')).status;
      healthDuring = (await stack.api('GET', '/healthz')).status;
      metricsDuring = (await stack.api('GET', '/metrics')).status;
    } finally {
      busy.stop();
    }

    const statuses = [...first.values()].map((r) => r.status);
    assert.deepEqual(
      statuses.filter((s) => s !== 202 && s !== 503),
      [],
      `only 202 or 503 while overloaded, got ${statuses.join(',')}`,
    );
    const shed = [...first.values()].filter((r) => r.status === 503);
    assert.ok(shed.length > 0, 'some sends were shed while the event loop was saturated');
    for (const r of shed) {
      assert.equal(r.body.error.code, 'overloaded', r.text);
      assert.match(r.body.error.message, /overloaded/);
      assert.equal(r.headers['retry-after'], '1');
    }
    assert.equal(readyDuring, 503, '/readyz is 503 while overloaded');
    assert.equal(healthDuring, 200, '/healthz keeps answering');
    assert.equal(metricsDuring, 200, '/metrics keeps answering');

    // the load is gone: ready again, and every caller that was shed is accepted on retry
    await waitFor(async () => (await stack.api('GET', '/readyz')).status === 200, { timeoutMs: 10_000 });
    const queueIds = new Map<string, string>([['calm-0', before.body.queue_id]]);
    for (const k of keys) {
      let r = first.get(k)!;
      while (r.status === 503) {
        await sleep(Number(r.headers['retry-after']) * 100);
        r = await send(k);
      }
      assert.equal(r.status, 202, r.text);
      if (first.get(k)!.status === 202) assert.equal(r.body.queue_id, first.get(k)!.body.queue_id);
      queueIds.set(k, r.body.queue_id);
    }
    // a repeat of an accepted key replays it: nothing new is created
    const again = await send(keys[0]!);
    assert.equal(again.status, 202);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(again.body.queue_id, queueIds.get(keys[0]!));

    await stack.receiver.waitForRequests(queueIds.size, 30_000);
    await sleep(300); // anything extra would arrive now
    const arrived = stack.receiver.requests.map((r) => r.headers['x-harepost-queue-id']);
    assert.equal(arrived.length, queueIds.size, 'one delivery per key, none extra');
    assert.deepEqual(new Set(arrived), new Set(queueIds.values()), 'every accepted send was delivered');

    const metrics = (await stack.api('GET', '/metrics')).text;
    const shedCount = Number(/harepost_requests_shed_total\{reason="event_loop_delay"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    assert.ok(shedCount >= shed.length, `the shed counter counts them (${shedCount} >= ${shed.length})`);
  });
});
