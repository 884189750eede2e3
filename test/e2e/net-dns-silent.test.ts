/**
 * A DNS server that never answers for a target's name: each attempt to it ends as a timeout at
 * its own deadline, saying what it was still waiting for, its lookup goes no further than that
 * deadline, and meanwhile other sends are accepted and delivered as usual (lookups are c-ares
 * queries on the event loop, not getaddrinfo calls holding libuv's thread pool).
 *
 * Network rule: the only DNS server is the harness's, on loopback; it stays silent for one name.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { sleep, waitFor } from '../support/wait.js';

const TIMEOUT_MS = 4000;
const SILENT = 'silent.example.test';
const STUCK = 8;
const OTHERS = 20;

describe('a DNS server that never answers for one name', () => {
  let stack: Stack;
  let acct: TestAccount;

  before(async () => {
    stack = await startStack();
    acct = await stack.createAccount('silent dns');
    await stack.verifyDomain(acct.live_key, 'example.test');
    stack.dns.silence(SILENT);
  });
  after(async () => stack?.close());

  const send = (target: string, delivery: Record<string, unknown>) =>
    stack.api('POST', '/v1/send', { key: acct.live_key, body: { target, body: { n: 1 }, delivery } });

  it('its attempts time out at their deadline while other sends are accepted and delivered promptly', async () => {
    const stuck: string[] = [];
    for (let i = 0; i < STUCK; i++) {
      const r = await send(`https://${SILENT}:${stack.receiver.port}/stuck-${i}`, { timeout_ms: TIMEOUT_MS, max_attempts: 1 });
      assert.equal(r.status, 202, r.text);
      stuck.push(r.body.queue_id as string);
    }
    await waitFor(() => stack.dns.queries.filter((q) => q.name === SILENT).length >= STUCK, { message: 'the stuck attempts are resolving' });
    const stuckSince = performance.now();

    // while every one of those waits on DNS: other sends, accepted at once and delivered
    const sendMs: number[] = [];
    for (let i = 0; i < OTHERS; i++) {
      const t0 = performance.now();
      const r = await send(stack.target(`/other-${i}`), { timeout_ms: 5000 });
      sendMs.push(performance.now() - t0);
      assert.equal(r.status, 202, r.text);
    }
    await waitFor(() => OTHERS === stack.receiver.requests.filter((q) => q.path.startsWith('/other-')).length, {
      timeoutMs: TIMEOUT_MS,
      message: 'the other sends are delivered',
    });
    const deliveredAfter = performance.now() - stuckSince;
    assert.ok(deliveredAfter < TIMEOUT_MS - 500, `the other sends took ${Math.round(deliveredAfter)} ms: they waited on the silent lookups`);
    assert.ok(Math.max(...sendMs) < 1000, `a send took ${Math.round(Math.max(...sendMs))} ms to be accepted`);
    for (const id of stuck) {
      const g = await stack.api('GET', `/v1/deliveries/${id}`, { key: acct.live_key });
      assert.equal(g.body.attempts.length, 0, `the stuck attempt ${id} ended early: ${g.text}`);
    }

    // each stuck attempt ends at its own deadline, as a timeout that says what it waited for
    for (const id of stuck) {
      const d = await waitFor(
        async () => {
          const g = await stack.api('GET', `/v1/deliveries/${id}`, { key: acct.live_key });
          return g.body.status === 'dead_letter' ? g.body : undefined;
        },
        { timeoutMs: TIMEOUT_MS + 5000, message: `${id} dead-letters after its one attempt` },
      );
      assert.equal(d.attempts.length, 1);
      const a = d.attempts[0];
      assert.equal(a.outcome, 'timeout', JSON.stringify(a));
      assert.equal(a.error, `timeout: no complete response within ${TIMEOUT_MS} ms (still waiting for the DNS lookup of ${SILENT})`);
      assert.ok(a.latency_ms >= TIMEOUT_MS - 50 && a.latency_ms < TIMEOUT_MS + 1000, `latency ${a.latency_ms}`);
    }

    // the lookups end with their attempts: no query for the name after the last deadline
    await sleep(200);
    const asked = stack.dns.queries.filter((q) => q.name === SILENT).length;
    await sleep(1500);
    assert.equal(stack.dns.queries.filter((q) => q.name === SILENT).length, asked, 'a lookup outlived its attempt');
  });
});
