/**
 * Target outages handled per origin: after a run of failures the origin's other deliveries are
 * held (no attempts, budgets kept) and one probe at a time goes out on a backoff; when a probe
 * succeeds the held work is delivered. A 429/503 with Retry-After throttles the whole origin.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { sleep, waitFor } from '../support/wait.js';

describe('per-origin breaker and throttle', () => {
  let stack: Stack;
  let acct: TestAccount;
  let down: Receiver;
  let slow: Receiver;
  let outage = true;

  before(async () => {
    stack = await startStack({ env: { HAREPOST_BREAKER_FAILURES: '3', HAREPOST_BREAKER_PROBE_MS: '400' } });
    acct = await stack.createAccount();
    await stack.verifyDomain(acct.live_key, 'example.test');
    const tls = { certPem: stack.pki.certPem, keyPem: stack.pki.keyPem };
    down = await startReceiver({ tls });
    down.respond(() => (outage ? { status: 503, body: 'down' } : { status: 200, body: 'back' }));
    slow = await startReceiver({ tls });
  });
  after(async () => {
    await stack.close();
    await down.close();
    await slow.close();
  });

  const send = async (target: string, delivery: Record<string, unknown>) => {
    const r = await stack.api('POST', '/v1/send', { key: acct.live_key, body: { target, body: 'x', delivery } });
    assert.equal(r.status, 202);
    return r.body.queue_id as string;
  };

  it('holds an origin that keeps failing, probes it, and delivers everything when it is back', async () => {
    const policy = { max_attempts: 25, base_delay_ms: 100, backoff: 'fixed', jitter: 'none' };
    const ids: string[] = [];
    // the run of failures that opens the breaker (3), their results recorded — attempts run on
    // their own thread, so a send right behind them could be claimed before their answers are
    // known — then the rest
    for (let i = 0; i < 3; i++) ids.push(await send(down.url(`/o/${i}`, 'down.example.test'), policy));
    await waitFor(async () => {
      for (const id of ids) if ((await stack.api('GET', `/v1/deliveries/${id}`, { key: acct.live_key })).body.attempts.length === 0) return false;
      return true;
    }, { message: 'the first three attempts were never recorded' });
    for (let i = 3; i < 40; i++) ids.push(await send(down.url(`/o/${i}`, 'down.example.test'), policy));
    await sleep(2000);
    const duringOutage = down.requests.length;
    // without the breaker: 40 deliveries retried every 100 ms for 2 s ≈ 800 attempts
    assert.ok(duringOutage <= 15, `${duringOutage} attempts reached the origin during the outage`);
    assert.ok(duringOutage >= 3, 'the run of failures that opened it, and probes');
    const held = await stack.api('GET', '/v1/deliveries?status=queued&limit=100', { key: acct.live_key });
    const untouched = held.body.data.filter((d: { queue_id: string; attempts: number }) => ids.includes(d.queue_id) && d.attempts === 0);
    assert.ok(untouched.length >= 25, `${untouched.length} held deliveries kept their whole budget`);

    outage = false;
    for (const id of ids) {
      await waitFor(
        async () => (await stack.api('GET', `/v1/deliveries/${id}`, { key: acct.live_key })).body.status === 'delivered',
        { timeoutMs: 20_000, message: `${id} not delivered after recovery` },
      );
    }
    console.log(`breaker: ${duringOutage} attempts during a 2 s outage for 40 deliveries; ${down.requests.length} in all`);
  });

  it('a 429 with Retry-After throttles every delivery to that origin until then', async () => {
    let first = true;
    slow.respond(() => {
      if (first) {
        first = false;
        return { status: 429, headers: { 'retry-after': '2' } };
      }
      return { status: 200 };
    });
    const t0 = Date.now();
    const firstId = await send(slow.url('/first', 'slow.example.test'), { base_delay_ms: 100, backoff: 'fixed', jitter: 'none' });
    await slow.waitForRequests(1);
    // the 429 known to Harepost (its attempt recorded: attempts run on their own thread, so a send
    // right behind could be claimed before the answer is back), then the others
    await waitFor(
      async () => (await stack.api('GET', `/v1/deliveries/${firstId}`, { key: acct.live_key })).body.attempts.length === 1,
      { message: 'the 429 was never recorded' },
    );
    for (let i = 0; i < 5; i++) await send(slow.url(`/other/${i}`, 'slow.example.test'), {});
    await slow.waitForRequests(7, 15_000);
    const later = slow.requests.slice(1).map((r) => r.receivedAt - slow.requests[0]!.receivedAt);
    assert.ok(Math.min(...later) >= 1900, `the others waited out the Retry-After (first after ${Math.min(...later)} ms)`);
    assert.ok(Date.now() - t0 >= 2000);
  });
});
