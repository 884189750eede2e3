/**
 * The deliveries contract of issue 14 (SPEC §6, §3): an RFC 3339 time as the list's cursor,
 * `response_code` beside `last_status`, a bulk replay that needs a filter or `"all": true`, a
 * delivery that had an attempt is never `queued` again, and the dashboard's home counts agree with
 * its dead-letter count when a destination is deleted with deliveries pending.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { issueLoginLink } from '../../src/cli/login-link.js';
import { ID_PREFIX, newId } from '../../src/core/ids.js';
import { DEFAULT_POLICY } from '../../src/core/policy.js';
import type { NewDelivery } from '../../src/store/store.js';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { sleep, waitFor } from '../support/wait.js';

const FAST_FAIL = { max_attempts: 1, backoff: 'fixed', base_delay_ms: 100, jitter: 'none', timeout_ms: 2000 };

describe('deliveries: cursor times, response_code, bulk replay, never queued after an attempt, dashboard counts', () => {
  let stack: Stack;
  let acct: TestAccount;
  const scripts = new Map<string, () => { status: number; body?: string }>();

  before(async () => {
    stack = await startStack();
    acct = await stack.createAccount('contract');
    await stack.verifyDomain(acct.live_key, 'example.test');
    stack.receiver.respond((req) => scripts.get(req.path.split('?')[0]!)?.() ?? { status: 200, body: 'ok' });
  });
  after(async () => stack.close());

  const get = async (id: string, key = acct.live_key) => {
    const r = await stack.api('GET', `/v1/deliveries/${id}`, { key });
    assert.equal(r.status, 200, r.text);
    return r.body;
  };
  const settled = (id: string, status: string, key = acct.live_key) =>
    waitFor(async () => {
      const d = await get(id, key);
      return d.status === status ? d : undefined;
    }, { timeoutMs: 15_000, message: `${id} never became ${status}` });
  const send = async (key: string, path: string, extra: Record<string, unknown> = {}) => {
    const r = await stack.api('POST', '/v1/send', { key, body: { target: stack.target(path), body: 'x', ...extra } });
    assert.equal(r.status, 202, r.text);
    return r.body.queue_id as string;
  };
  /** A delivery put straight into the store with the given created_at (a time the API would never stamp). */
  const stored = async (account: TestAccount, path: string, createdAt: number): Promise<string> => {
    const target = stack.target(path);
    const d: NewDelivery = {
      id: newId(ID_PREFIX.delivery), account_id: account.account_id, mode: 'live', target, origin: new URL(target).origin,
      method: 'POST', headers: {}, body: null, policy: { ...DEFAULT_POLICY, ...FAST_FAIL } as NewDelivery['policy'],
      idempotency_key: null, metadata: null, sign: false, created_at: createdAt,
    };
    await stack.hp.store.enqueueDeliveries(account.account_id, 'live', [d]);
    return d.id;
  };

  describe('an RFC 3339 time as cursor', () => {
    let pager: TestAccount;
    const T = Date.UTC(2026, 5, 10, 14, 22, 10);
    /** created_at offsets from T, in the order the deliveries are accepted (not their time order). */
    const offsets = [-9000, -1, 0, -5000, 1, -1000, 60_000, -3000];
    const ids: string[] = [];

    before(async () => {
      pager = await stack.createAccount('pager');
      for (const o of offsets) ids.push(await stored(pager, `/cursor/${o}`, T + o));
    });

    const page = (query: string) => stack.api('GET', `/v1/deliveries?${query}`, { key: pager.live_key });
    const expected = () => ids.filter((_, i) => offsets[i]! < 0).reverse();

    it('lists what was created strictly before it, newest first, and its next_cursor continues exactly', async () => {
      const whole = await page('cursor=2026-06-10T14:22:10Z&limit=100');
      assert.equal(whole.status, 200, whole.text);
      assert.deepEqual(whole.body.data.map((d: { queue_id: string }) => d.queue_id), expected());
      assert.equal(whole.body.next_cursor, null);
      for (const row of whole.body.data) assert.ok(Date.parse(row.created_at) < T, row.created_at);

      const seen: string[] = [];
      let cursor = '2026-06-10T14:22:10Z';
      for (let pages = 0; ; pages++) {
        assert.ok(pages < 10, 'paging ends');
        const r = await page(`limit=2&cursor=${encodeURIComponent(cursor)}`);
        assert.equal(r.status, 200, r.text);
        assert.ok(r.body.data.length <= 2);
        seen.push(...r.body.data.map((d: { queue_id: string }) => d.queue_id));
        if (r.body.next_cursor === null) break;
        assert.equal(typeof r.body.next_cursor, 'string');
        cursor = r.body.next_cursor;
      }
      assert.deepEqual(seen, expected(), 'each once; none created at or after the time');
    });

    it('takes fractions and offsets, an encoded or unencoded "+", and works with the status filter', async () => {
      const ofOffsets = async (query: string) => {
        const r = await page(query);
        assert.equal(r.status, 200, `${query}: ${r.text}`);
        return r.body.data.map((d: { queue_id: string }) => d.queue_id);
      };
      for (const t of ['2026-06-10T14:22:10.000Z', '2026-06-10T16:22:10%2B02:00', '2026-06-10T16:22:10+02:00', '2026-06-10T10:22:10-04:00']) {
        assert.deepEqual(await ofOffsets(`limit=100&cursor=${t}`), expected(), t);
      }
      // a tenth of a millisecond after T: the delivery made at T is before it
      const atOrBefore = ids.filter((_, i) => offsets[i]! <= 0).reverse();
      assert.deepEqual(await ofOffsets('limit=100&cursor=2026-06-10T14:22:10.0001Z'), atOrBefore);
      assert.deepEqual(await ofOffsets('limit=100&cursor=2026-06-10T14:22:09.999Z'), ids.filter((_, i) => offsets[i]! < -1).reverse());
      // with a status filter (they are all delivered by now)
      await waitFor(async () => (await page('status=delivered&limit=100')).body.data.length === ids.length, { message: 'not all delivered' });
      assert.deepEqual(await ofOffsets('status=delivered&limit=100&cursor=2026-06-10T14:22:10Z'), expected());
      assert.deepEqual(await ofOffsets('status=dead_letter&limit=100&cursor=2026-06-10T14:22:10Z'), []);
    });

    it('opaque cursors keep working; a cursor that is neither is 400 naming cursor', async () => {
      const first = await page('limit=3');
      assert.equal(first.status, 200);
      const rest = await page(`limit=100&cursor=${encodeURIComponent(first.body.next_cursor)}`);
      assert.deepEqual(
        [...first.body.data, ...rest.body.data].map((d: { queue_id: string }) => d.queue_id),
        [...ids].reverse(),
      );
      for (const bad of ['2026-06-10', '2026-06-10T14:22:10', '2026-02-30T00:00:00Z', 'yesterday', 'bm90LW91cnM']) {
        const r = await page(`cursor=${encodeURIComponent(bad)}`);
        assert.equal(r.status, 400, `${bad}: ${r.text}`);
        assert.equal(r.body.error.code, 'invalid_request');
        assert.equal(r.body.error.field, 'cursor');
        assert.match(r.body.error.message, /RFC 3339/);
      }
    });
  });

  it('single and listed deliveries carry response_code, the same value as last_status', async () => {
    scripts.set('/code-201', () => ({ status: 201 }));
    const id = await send(acct.live_key, '/code-201');
    const done = await settled(id, 'delivered');
    assert.equal(done.last_status, 201);
    assert.equal(done.response_code, 201);
    const list = await stack.api('GET', '/v1/deliveries?limit=100', { key: acct.live_key });
    const row = list.body.data.find((d: { queue_id: string }) => d.queue_id === id);
    assert.equal(row.last_status, 201);
    assert.equal(row.response_code, 201);
    const fresh = await stack.api('GET', '/v1/deliveries?limit=100', { key: (await stack.createAccount('fresh')).live_key });
    assert.deepEqual(fresh.body.data, []);
    // not attempted yet: both null
    await stack.hp.dispatcher!.stop(0);
    try {
      const waiting = await send(acct.live_key, '/never-now');
      const w = await get(waiting);
      assert.equal(w.status, 'queued');
      assert.equal(w.last_status, null);
      assert.equal(w.response_code, null);
    } finally {
      stack.hp.dispatcher!.start();
    }
  });

  describe('POST /v1/deliveries/retry', () => {
    it('without a filter is 400 naming "all"; "all": true replays everything; a filter alone is enough', async () => {
      const owner = await stack.createAccount('bulk');
      await stack.verifyDomain(owner.live_key, 'example.test');
      let failing = true;
      scripts.set('/bulk-all', () => (failing ? { status: 503 } : { status: 200 }));
      const dead = [await send(owner.live_key, '/bulk-all', { delivery: FAST_FAIL }), await send(owner.live_key, '/bulk-all', { delivery: FAST_FAIL })];
      for (const id of dead) await settled(id, 'dead_letter', owner.live_key);

      for (const [what, opts] of [
        ['an empty object', { body: {} }],
        ['JSON null', { rawBody: 'null', headers: { 'content-type': 'application/json' } }],
        ['no body', {}],
        ['"all": false', { body: { all: false } }],
      ] as const) {
        const r = await stack.api('POST', '/v1/deliveries/retry', { key: owner.live_key, ...opts });
        assert.equal(r.status, 400, `${what}: ${r.text}`);
        assert.equal(r.body.error.code, 'invalid_request', what);
        assert.equal(r.body.error.field, 'all', what);
        assert.match(r.body.error.message, /"all": true/, what);
      }
      const notBool = await stack.api('POST', '/v1/deliveries/retry', { key: owner.live_key, body: { all: 'yes' } });
      assert.equal(notBool.status, 400, notBool.text);
      assert.equal(notBool.body.error.field, 'all');
      for (const id of dead) assert.equal((await get(id, owner.live_key)).status, 'dead_letter', 'a refused call replays nothing');

      failing = false;
      const all = await stack.api('POST', '/v1/deliveries/retry', { key: owner.live_key, body: { all: true } });
      assert.equal(all.status, 202, all.text);
      assert.deepEqual(all.body, { count: 2 });
      for (const id of dead) await settled(id, 'delivered', owner.live_key);

      // all: true with a filter: the filter still applies
      failing = true;
      const again = await send(owner.live_key, '/bulk-all', { delivery: FAST_FAIL });
      await settled(again, 'dead_letter', owner.live_key);
      const none = await stack.api('POST', '/v1/deliveries/retry', { key: owner.live_key, body: { all: true, status: 'rejected' } });
      assert.deepEqual(none.body, { count: 0 });
      failing = false;
      const one = await stack.api('POST', '/v1/deliveries/retry', { key: owner.live_key, body: { status: 'dead_letter' } });
      assert.deepEqual(one.body, { count: 1 });
      await settled(again, 'delivered', owner.live_key);
    });
  });

  describe('a delivery that has had an attempt is never queued', () => {
    it('a replayed dead letter is retrying (its history stays), and so is the replay answer', async () => {
      let failing = true;
      scripts.set('/replayed', () => (failing ? { status: 500 } : { status: 200 }));
      await stack.hp.dispatcher!.stop(0);
      const id = await send(acct.live_key, '/replayed', { delivery: FAST_FAIL });
      stack.hp.dispatcher!.start();
      await settled(id, 'dead_letter');
      // stopped, so the replayed delivery stays unattempted long enough to be looked at
      await stack.hp.dispatcher!.stop(0);
      try {
        const r = await stack.api('POST', `/v1/deliveries/${id}/retry`, { key: acct.live_key });
        assert.equal(r.status, 202, r.text);
        assert.equal(r.body.status, 'retrying');
        assert.equal(r.body.attempts.length, 1);
        assert.equal((await get(id)).status, 'retrying');
        const queued = await stack.api('GET', '/v1/deliveries?status=queued&limit=100', { key: acct.live_key });
        assert.ok(!queued.body.data.some((d: { queue_id: string }) => d.queue_id === id));
      } finally {
        failing = false;
        stack.hp.dispatcher!.start();
      }
      const done = await settled(id, 'delivered');
      assert.deepEqual(done.attempts.map((a: { attempt: number }) => a.attempt), [1, 2]);
    });

    it('after a 410 disabled its destination, the replayed delivery waits as retrying until the destination is enabled again', async () => {
      let gone = true;
      scripts.set('/gone-replay', () => (gone ? { status: 410, body: 'gone' } : { status: 200 }));
      const dest = await stack.api('POST', '/v1/destinations', {
        key: acct.live_key,
        body: { url: stack.target('/gone-replay'), events: ['gone.*'], delivery: FAST_FAIL },
      });
      assert.equal(dest.status, 201, dest.text);
      const ev = await stack.api('POST', '/v1/events', { key: acct.live_key, body: { type: 'gone.one', body: { n: 1 } } });
      assert.equal(ev.status, 202, ev.text);
      const id: string = ev.body.deliveries[0].queue_id;
      const rejected = await settled(id, 'rejected');
      assert.equal(rejected.response_code, 410);
      await waitFor(async () => (await stack.api('GET', `/v1/destinations/${dest.body.id}`, { key: acct.live_key })).body.enabled === false, {
        message: 'the 410 did not disable the destination',
      });

      gone = false;
      const r = await stack.api('POST', `/v1/deliveries/${id}/retry`, { key: acct.live_key });
      assert.equal(r.status, 202, r.text);
      assert.equal(r.body.status, 'retrying');
      await sleep(400); // the destination is disabled: nothing goes out
      const waiting = await get(id);
      assert.equal(waiting.status, 'retrying', 'never queued: it has had an attempt');
      assert.equal(waiting.attempts.length, 1);

      const on = await stack.api('PATCH', `/v1/destinations/${dest.body.id}`, { key: acct.live_key, body: { enabled: true } });
      assert.equal(on.status, 200, on.text);
      const done = await settled(id, 'delivered');
      assert.deepEqual(done.attempts.map((a: { http_status: number }) => a.http_status), [410, 200]);
    });
  });

  it("the dashboard's home counts agree with its dead-letter count when a destination is deleted with deliveries pending", async () => {
    const owner = await stack.createAccount('dashboard-counts');
    await stack.verifyDomain(owner.live_key, 'example.test');
    scripts.set('/dl-now', () => ({ status: 503 }));
    // one dead letter by its attempts
    const spent = await send(owner.live_key, '/dl-now', { delivery: FAST_FAIL });
    await settled(spent, 'dead_letter', owner.live_key);
    // two waiting on a slow retry when their destination is deleted
    const dest = await stack.api('POST', '/v1/destinations', {
      key: owner.live_key,
      body: { url: stack.target('/dl-now'), events: ['dl.*'], delivery: { max_attempts: 5, backoff: 'fixed', base_delay_ms: 60_000, jitter: 'none' } },
    });
    assert.equal(dest.status, 201, dest.text);
    const pending: string[] = [];
    for (const n of [1, 2]) {
      const ev = await stack.api('POST', '/v1/events', { key: owner.live_key, body: { type: 'dl.x', body: { n } } });
      pending.push(ev.body.deliveries[0].queue_id);
    }
    for (const id of pending) await settled(id, 'retrying', owner.live_key);
    const del = await stack.api('DELETE', `/v1/destinations/${dest.body.id}`, { key: owner.live_key });
    assert.equal(del.status, 200, del.text);
    for (const id of pending) await settled(id, 'dead_letter', owner.live_key);

    // signed in to the dashboard as that account
    const link = await issueLoginLink(stack.hp.store, owner.account_id, 'live', stack.hp.url!);
    const token = new URL(link.url).searchParams.get('token')!;
    const signIn = await stack.api('POST', '/dashboard/login', {
      rawBody: new URLSearchParams({ token }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: stack.hp.url! },
    });
    assert.equal(signIn.status, 303, signIn.text);
    const cookie = /^(harepost_session=[^;]+);/.exec(String(signIn.headers['set-cookie']))![1]!;
    const overview = await stack.api('GET', '/dashboard/api/overview', { headers: { cookie } });
    assert.equal(overview.status, 200, overview.text);
    const list = await stack.api('GET', '/dashboard/api/v1/deliveries?status=dead_letter&limit=100', { headers: { cookie } });
    assert.equal(list.status, 200, list.text);
    assert.equal(list.body.data.length, 3, 'the Dead letters page lists three');
    assert.equal(overview.body.dead_letter_count, 3, 'dead letters now (the Dead letters page count)');
    assert.equal(overview.body.deliveries.dead_letter, 3, 'dead-lettered in the last hour: all three, also the two ended by the deletion');
    assert.equal(overview.body.deliveries.accepted, 3);
  });
});
