/**
 * The harepost-deliveries-reference document against a local Harepost (host and key changed):
 * one delivery with its attempts, the list, its query parameters, the paging example with its
 * RFC 3339 cursor exactly as printed, and the status codes 200, 400, 401 and 404.
 *
 * Paging 60 deliveries while new ones arrive, and test/live isolation, are in
 * deliveries-read.test.ts; the time cursor's edges in deliveries-contract.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ID_PREFIX, newId } from '../../src/core/ids.js';
import { DEFAULT_POLICY } from '../../src/core/policy.js';
import type { NewDelivery } from '../../src/store/store.js';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { waitFor } from '../support/wait.js';
import { SEED_TIMESTAMP, SEND_REFERENCE_EXAMPLE } from '../support/seed-examples.js';

const ISO = SEED_TIMESTAMP;
const SINGLE_KEYS = ['queue_id', 'target', 'method', 'status', 'last_status', 'idempotency_key', 'created_at', 'updated_at', 'attempts'];
const LIST_KEYS = ['queue_id', 'target', 'method', 'status', 'attempts', 'last_status', 'idempotency_key', 'created_at', 'updated_at'];
const ATTEMPT_KEYS = ['attempt', 'outcome', 'http_status', 'latency_ms', 'error', 'created_at'];

/** The send reference's example (host swapped), to have the delivery this document shows. */
const EXAMPLE = SEND_REFERENCE_EXAMPLE;

describe('seed: harepost-deliveries-reference', () => {
  let stack: Stack;
  let acct: TestAccount;
  let queueId: string;
  /** `Authorization: Bearer hp_live_YOUR_KEY` */
  const get = (path: string, key: string | null = acct.live_key) => stack.api('GET', path, key === null ? {} : { key });

  before(async () => {
    stack = await startStack({ certNames: ['your-app.com'] });
    stack.dns.setA('your-app.com', ['127.0.0.1']);
    acct = await stack.createAccount('deliveries-reference');
    await stack.verifyDomain(acct.live_key, 'your-app.com');
    stack.receiver.respond((req) => (req.path.startsWith('/dead') ? { status: 503 } : { status: 200, body: 'ok' }));
    const sent = await stack.api('POST', '/v1/send', {
      key: acct.live_key,
      rawBody: EXAMPLE(stack.receiver.port),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(sent.status, 202, sent.text);
    queueId = sent.body.queue_id;
    await waitFor(async () => (await get(`/v1/deliveries/${queueId}`)).body.status === 'delivered', { message: 'not delivered' });
  });
  after(async () => stack.close());

  it('GET /v1/deliveries/{queue_id}: the delivery and its full attempt history, in order', async () => {
    const r = await get(`/v1/deliveries/${queueId}`);
    assert.equal(r.status, 200, r.text);
    const d = r.body;
    for (const k of SINGLE_KEYS) assert.ok(k in d, `has ${k}`);
    assert.equal(d.queue_id, queueId);
    assert.equal(d.target, `https://your-app.com:${stack.receiver.port}/webhook`);
    assert.equal(d.method, 'POST');
    assert.equal(d.status, 'delivered');
    assert.equal(d.last_status, 200);
    assert.equal(d.idempotency_key, 'ord_123-paid');
    assert.match(d.created_at, ISO);
    assert.match(d.updated_at, ISO);
    assert.ok(Date.parse(d.updated_at) >= Date.parse(d.created_at));
    assert.ok(Array.isArray(d.attempts), 'here attempts is an array');
    assert.equal(d.attempts.length, 1);
    const a = d.attempts[0];
    for (const k of ATTEMPT_KEYS) assert.ok(k in a, `attempt has ${k}`);
    assert.deepEqual([a.attempt, a.outcome, a.http_status, a.error], [1, 'delivered', 200, null]);
    assert.equal(typeof a.latency_ms, 'number');
    assert.match(a.created_at, ISO);
  });

  it('GET /v1/deliveries: your deliveries newest first, attempts a count, next_cursor null at the end', async () => {
    const r = await get('/v1/deliveries');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.body).sort(), ['data', 'next_cursor']);
    assert.equal(r.body.next_cursor, null);
    const row = r.body.data.find((x: { queue_id: string }) => x.queue_id === queueId);
    for (const k of LIST_KEYS) assert.ok(k in row, `list row has ${k}`);
    assert.equal(row.attempts, 1, 'in the list, attempts is a count');
    assert.equal(row.status, 'delivered');
    assert.equal(row.last_status, 200);
    assert.equal(row.idempotency_key, 'ord_123-paid');
    const times = r.body.data.map((x: { created_at: string }) => Date.parse(x.created_at));
    assert.deepEqual(times, [...times].sort((x, y) => y - x), 'newest first');
  });

  it('query parameters: each status word filters; limit 1 to 100, default 25; the cursor continues', async () => {
    for (const status of ['queued', 'delivered', 'retrying', 'rejected', 'dead_letter']) {
      const r = await get(`/v1/deliveries?status=${status}`);
      assert.equal(r.status, 200, `${status}: ${r.text}`);
      assert.ok(r.body.data.every((x: { status: string }) => x.status === status), status);
    }
    const owner = await stack.createAccount('pages');
    await stack.verifyDomain(owner.live_key, 'your-app.com');
    const ids: string[] = [];
    for (let i = 0; i < 27; i++) {
      const s = await stack.api('POST', '/v1/send', { key: owner.live_key, body: { target: `https://your-app.com:${stack.receiver.port}/p${i}` } });
      ids.push(s.body.queue_id);
    }
    const first = await get('/v1/deliveries', owner.live_key);
    assert.equal(first.body.data.length, 25, 'defaults to 25');
    assert.equal(typeof first.body.next_cursor, 'string', 'more results: next_cursor holds a value');
    const next = await get(`/v1/deliveries?cursor=${encodeURIComponent(first.body.next_cursor)}`, owner.live_key);
    assert.equal(next.body.next_cursor, null, 'the end: null');
    assert.deepEqual([...first.body.data, ...next.body.data].map((x: { queue_id: string }) => x.queue_id), [...ids].reverse());
    assert.equal((await get('/v1/deliveries?limit=1', owner.live_key)).body.data.length, 1);
    assert.equal((await get('/v1/deliveries?limit=100', owner.live_key)).body.data.length, 27);
    for (const limit of ['0', '101']) {
      const r = await get(`/v1/deliveries?limit=${limit}`, owner.live_key);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.body.error.field, 'limit');
    }
  });

  it('the paging example: status=dead_letter&limit=50&cursor=2026-06-10T14:22:10Z lists the dead letters created before that instant', async () => {
    const owner = await stack.createAccount('paging-example');
    // dead letters made on 2026-06-10 (put in the store with that created_at; they die on their one attempt)
    const at = (iso: string) => Date.parse(iso);
    const made: Record<string, string> = {};
    for (const iso of ['2026-06-10T14:20:00.000Z', '2026-06-10T14:22:09.999Z', '2026-06-10T14:22:10.000Z', '2026-06-10T14:25:00.000Z']) {
      const target = `https://your-app.com:${stack.receiver.port}/dead`;
      const d: NewDelivery = {
        id: newId(ID_PREFIX.delivery), account_id: owner.account_id, mode: 'live', target, origin: new URL(target).origin,
        method: 'POST', headers: {}, body: null, policy: { ...DEFAULT_POLICY, max_attempts: 1 }, idempotency_key: null,
        metadata: null, sign: false, created_at: at(iso),
      };
      await stack.hp.store.enqueueDeliveries(owner.account_id, 'live', [d]);
      made[iso] = d.id;
    }
    await waitFor(async () => (await get('/v1/deliveries?status=dead_letter', owner.live_key)).body.data.length === 4, {
      message: 'the four did not become dead letters',
    });

    // the document's request, as printed
    const r = await get('/v1/deliveries?status=dead_letter&limit=50&cursor=2026-06-10T14:22:10Z', owner.live_key);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(
      r.body.data.map((x: { queue_id: string }) => x.queue_id),
      [made['2026-06-10T14:22:09.999Z'], made['2026-06-10T14:20:00.000Z']],
      'created strictly before 14:22:10, newest first',
    );
    assert.ok(r.body.data.every((x: { status: string }) => x.status === 'dead_letter'));
    assert.equal(r.body.next_cursor, null);

    // "Pass the cursor on the next request to continue"
    const one = await get('/v1/deliveries?status=dead_letter&limit=1&cursor=2026-06-10T14:22:10Z', owner.live_key);
    assert.deepEqual(one.body.data.map((x: { queue_id: string }) => x.queue_id), [made['2026-06-10T14:22:09.999Z']]);
    const two = await get(`/v1/deliveries?status=dead_letter&limit=1&cursor=${encodeURIComponent(one.body.next_cursor)}`, owner.live_key);
    assert.deepEqual(two.body.data.map((x: { queue_id: string }) => x.queue_id), [made['2026-06-10T14:20:00.000Z']]);
    assert.equal(two.body.next_cursor, null);
  });

  it('400 for an invalid status filter', async () => {
    const r = await get('/v1/deliveries?status=succeeded');
    assert.equal(r.status, 400, r.text);
    assert.equal(r.body.error.code, 'invalid_request');
    assert.equal(r.body.error.field, 'status');
    assert.match(r.body.error.message, /queued, retrying, delivered, rejected, dead_letter/);
  });

  it('401 for a missing or invalid API key', async () => {
    for (const key of [null, 'hp_live_YOUR_KEY']) {
      for (const path of ['/v1/deliveries', `/v1/deliveries/${queueId}`]) {
        const r = await get(path, key);
        assert.equal(r.status, 401, r.text);
        assert.equal(r.body.error.code, 'unauthorized');
      }
    }
  });

  it('404 when the delivery does not exist or is not on your account', async () => {
    const missing = await get('/v1/deliveries/hr_9f2a81k2');
    assert.equal(missing.status, 404, missing.text);
    assert.equal(missing.body.error.code, 'not_found');
    const other = await stack.createAccount('someone-else');
    const theirs = await get(`/v1/deliveries/${queueId}`, other.live_key);
    assert.equal(theirs.status, 404, theirs.text);
    assert.equal(theirs.body.error.code, 'not_found');
    assert.ok(!theirs.text.includes('your-app.com'), 'nothing of the delivery shows');
  });
});
