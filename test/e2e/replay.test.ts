/**
 * Replay (issue: operations): a dead letter or rejection re-queued with a fresh attempt budget,
 * its history kept and numbered on; bulk replay by filter; 409 and 404 where they belong.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

describe('replay', () => {
  let stack: Stack;
  let acct: TestAccount;
  let other: TestAccount;
  let failing = true;

  before(async () => {
    stack = await startStack();
    acct = await stack.createAccount();
    other = await stack.createAccount('other');
    await stack.verifyDomain(acct.live_key, 'example.test');
    stack.receiver.respond((req) => {
      if (req.path.startsWith('/reject')) return { status: failing ? 422 : 200 };
      return failing ? { status: 503 } : { status: 200, body: 'fixed' };
    });
  });
  after(async () => stack.close());

  const get = async (id: string, key = acct.live_key) => (await stack.api('GET', `/v1/deliveries/${id}`, { key })).body;
  const settled = (id: string, status: string) =>
    waitFor(async () => {
      const d = await get(id);
      return d.status === status ? d : undefined;
    }, { timeoutMs: 15_000, message: `${id} never became ${status}` });
  const send = async (path: string, extra: Record<string, unknown> = {}) => {
    const r = await stack.api('POST', '/v1/send', {
      key: acct.live_key,
      body: { target: stack.target(path), body: 'x', delivery: { max_attempts: 2, base_delay_ms: 100, backoff: 'fixed', jitter: 'none' }, ...extra },
    });
    assert.equal(r.status, 202);
    return r.body.queue_id as string;
  };

  it('re-queues a dead letter with a fresh budget; history kept and numbered on; then delivered', async () => {
    failing = true;
    const id = await send('/replay-one');
    const dead = await settled(id, 'dead_letter');
    assert.equal(dead.attempts.length, 2);

    assert.equal((await stack.api('POST', `/v1/deliveries/${id}/retry`, { key: other.live_key })).status, 404, 'another account');
    assert.equal((await stack.api('POST', `/v1/deliveries/${id}/retry`, { key: acct.test_key })).status, 404, 'another mode');

    failing = false;
    const r = await stack.api('POST', `/v1/deliveries/${id}/retry`, { key: acct.live_key });
    assert.equal(r.status, 202, r.text);
    assert.equal(r.body.queue_id, id);
    const done = await settled(id, 'delivered');
    assert.deepEqual(
      done.attempts.map((a: { attempt: number; outcome: string }) => [a.attempt, a.outcome]),
      [
        [1, 'failed'],
        [2, 'failed'],
        [3, 'delivered'],
      ],
    );
    const again = await stack.api('POST', `/v1/deliveries/${id}/retry`, { key: acct.live_key });
    assert.equal(again.status, 409, 'a delivered delivery is not replayed');
    assert.equal(again.body.error.code, 'not_replayable');
  });

  it('a replayed delivery gets a whole new budget of max_attempts', async () => {
    failing = true;
    const id = await send('/replay-budget');
    await settled(id, 'dead_letter');
    await stack.api('POST', `/v1/deliveries/${id}/retry`, { key: acct.live_key });
    const dead = await waitFor(async () => {
      const d = await get(id);
      return d.status === 'dead_letter' && d.attempts.length === 4 ? d : undefined;
    });
    assert.deepEqual(dead.attempts.map((a: { attempt: number }) => a.attempt), [1, 2, 3, 4]);
  });

  it('409 for a queued or retrying delivery; 404 for an unknown one', async () => {
    failing = true;
    const id = await send('/replay-busy', { delivery: { max_attempts: 5, base_delay_ms: 60_000, backoff: 'fixed', jitter: 'none' } });
    await settled(id, 'retrying');
    assert.equal((await stack.api('POST', `/v1/deliveries/${id}/retry`, { key: acct.live_key })).status, 409);
    assert.equal((await stack.api('POST', '/v1/deliveries/hr_nope/retry', { key: acct.live_key })).status, 404);
  });

  it('re-queues a rejection', async () => {
    failing = true;
    const id = await send('/reject-me');
    await settled(id, 'rejected');
    failing = false;
    assert.equal((await stack.api('POST', `/v1/deliveries/${id}/retry`, { key: acct.live_key })).status, 202);
    await settled(id, 'delivered');
  });

  it('bulk: re-queues every match of the filters in batches and answers the count', async () => {
    failing = true;
    const early: string[] = [];
    for (let i = 0; i < 6; i++) early.push(await send(`/bulk/${i}`));
    const cut = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    const late: string[] = [];
    for (let i = 0; i < 3; i++) late.push(await send(`/bulk-late/${i}`));
    for (const id of [...early, ...late]) await settled(id, 'dead_letter');

    const bad = await stack.api('POST', '/v1/deliveries/retry', { key: acct.live_key, body: { status: 'delivered' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'status');
    const badTime = await stack.api('POST', '/v1/deliveries/retry', { key: acct.live_key, body: { created_before: 'yesterday' } });
    assert.equal(badTime.status, 400);
    assert.equal(badTime.body.error.field, 'created_before');
    const none = await stack.api('POST', '/v1/deliveries/retry', { key: other.live_key, body: { status: 'dead_letter' } });
    assert.deepEqual(none.body, { count: 0 }, 'another account replays nothing of ours');

    failing = false;
    const r = await stack.api('POST', '/v1/deliveries/retry', {
      key: acct.live_key,
      body: { status: 'dead_letter', created_before: cut },
    });
    assert.equal(r.status, 202);
    assert.ok(r.body.count >= 6, `count ${r.body.count}`);
    for (const id of early) await settled(id, 'delivered');
    for (const id of late) assert.equal((await get(id)).status, 'dead_letter', 'outside the filter: untouched');
    const rest = await stack.api('POST', '/v1/deliveries/retry', { key: acct.live_key, body: { created_after: cut } });
    assert.equal(rest.body.count, 3);
    for (const id of late) await settled(id, 'delivered');
  });

  it('a large bulk replay answers other requests between its batches', async () => {
    // 5,000 dead letters made through the store, with the dispatcher stopped so they stay put
    await stack.hp.dispatcher!.stop(0);
    const origin = 'https://bulk.example.test';
    const now = Date.now();
    const many = Array.from({ length: 5000 }, (_, i) => ({
      id: `hr_bulk${String(i).padStart(6, '0')}`,
      account_id: acct.account_id,
      mode: 'test' as const,
      target: `${origin}/x`,
      origin,
      method: 'POST',
      headers: {},
      body: null,
      policy: { max_attempts: 1, backoff: 'fixed' as const, base_delay_ms: 100, max_delay_ms: 1000, jitter: 'none' as const, timeout_ms: 1000, respect_retry_after: true },
      idempotency_key: null,
      metadata: null,
      sign: false,
      created_at: now,
    }));
    await stack.hp.store.enqueueDeliveries(acct.account_id, 'test', many);
    for (;;) {
      const claims = await stack.hp.store.claimDue({ now: Date.now(), limit: 1000, owner: 'test', leaseMarginMs: 60_000, origin, excludeOrigins: [], secretsRetiredAfter: 0 });
      if (claims.length === 0) break;
      await stack.hp.store.recordAttempts(claims.map((c) => ({
        delivery_id: c.id, lease_token: c.lease_token, status: 'dead_letter' as const, next_attempt_at: null,
        attempt: { attempt: 1, outcome: 'failed' as const, http_status: 500, latency_ms: 1, error: null, response_excerpt: null, created_at: Date.now() },
      })));
    }
    const order: string[] = [];
    const bulk = stack.api('POST', '/v1/deliveries/retry', { key: acct.test_key, body: { status: 'dead_letter' } }).then((r) => {
      order.push('bulk');
      return r;
    });
    await new Promise((r) => setTimeout(r, 2));
    const probe = stack.api('GET', '/healthz').then(() => order.push('probe'));
    const [r] = await Promise.all([bulk, probe]);
    assert.equal(r.body.count, 5000);
    assert.deepEqual(order, ['probe', 'bulk'], 'the probe was answered while the replay was still going');
  });
});
