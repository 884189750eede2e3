/**
 * Retention: final deliveries (with their attempts) and events past HAREPOST_RETENTION_DAYS are
 * deleted, pending ones never are; Idempotency-Key records go after 24 h. The pruner runs
 * against the real store with its clock moved forward.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RetentionPruner } from '../../src/delivery/retention.js';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

const DAY = 24 * 60 * 60 * 1000;
const quiet = { info: () => undefined, error: () => undefined };

describe('retention', () => {
  let stack: Stack;
  let acct: TestAccount;

  before(async () => {
    stack = await startStack({ env: { HAREPOST_RETENTION_DAYS: '30' } });
    acct = await stack.createAccount();
    await stack.verifyDomain(acct.live_key, 'example.test');
    stack.receiver.respond((req) => (req.path === '/pending' ? { status: 500 } : { status: 200 }));
  });
  after(async () => stack.close());

  const status = async (id: string) => (await stack.api('GET', `/v1/deliveries/${id}`, { key: acct.live_key })).status;

  it('removes exactly what is past its age', async () => {
    const sent = await stack.api('POST', '/v1/send', {
      key: acct.live_key,
      headers: { 'idempotency-key': 'keep-24h' },
      body: { target: stack.target('/done'), body: 'x' },
    });
    const pending = await stack.api('POST', '/v1/send', {
      key: acct.live_key,
      body: { target: stack.target('/pending'), body: 'x', delivery: { base_delay_ms: 60_000, backoff: 'fixed', jitter: 'none' } },
    });
    const dest = await stack.api('POST', '/v1/destinations', { key: acct.live_key, body: { url: stack.target('/dest'), events: ['a.*'] } });
    const event = await stack.api('POST', '/v1/events', { key: acct.live_key, body: { type: 'a.b', body: { n: 1 } } });
    assert.equal(dest.status, 201);
    const eventDelivery = event.body.deliveries[0].queue_id;
    for (const [id, want] of [
      [sent.body.queue_id, 'delivered'],
      [pending.body.queue_id, 'retrying'],
      [eventDelivery, 'delivered'],
    ]) {
      await waitFor(async () => (await stack.api('GET', `/v1/deliveries/${id}`, { key: acct.live_key })).body.status === want);
    }

    // 29 days on: nothing is old enough, except the idempotency record (24 h)
    const soon = await new RetentionPruner({ store: stack.hp.store, retentionDays: 30, intervalMs: 60_000, logger: quiet, now: () => Date.now() + 29 * DAY }).runOnce();
    assert.deepEqual(soon, { deliveries: 0, events: 0, idempotency_keys: 1 });
    assert.equal(await status(sent.body.queue_id), 200);
    const replayed = await stack.api('POST', '/v1/send', {
      key: acct.live_key,
      headers: { 'idempotency-key': 'keep-24h' },
      body: { target: stack.target('/done'), body: 'x' },
    });
    assert.notEqual(replayed.body.queue_id, sent.body.queue_id, 'past 24 h the key executes anew');
    // it is the third final delivery below: wait until it is one (a loaded machine may be slow to deliver it)
    await waitFor(async () => (await stack.api('GET', `/v1/deliveries/${replayed.body.queue_id}`, { key: acct.live_key })).body.status === 'delivered');

    // 31 days on: final deliveries and the event go; the retrying one stays
    const later = await new RetentionPruner({ store: stack.hp.store, retentionDays: 30, intervalMs: 60_000, batch: 2, logger: quiet, now: () => Date.now() + 31 * DAY }).runOnce();
    assert.ok(later.deliveries >= 3, `pruned ${later.deliveries}`);
    assert.equal(later.events, 1);
    assert.equal(await status(sent.body.queue_id), 404);
    assert.equal(await status(eventDelivery), 404);
    assert.equal(await status(pending.body.queue_id), 200, 'a pending delivery is never pruned');
    assert.equal((await stack.api('GET', `/v1/events/${event.body.id}`, { key: acct.live_key })).status, 404);
    assert.equal((await stack.api('GET', `/v1/destinations/${dest.body.id}`, { key: acct.live_key })).status, 200, 'configuration is kept');
  });
});
