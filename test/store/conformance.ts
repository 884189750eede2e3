/**
 * The store conformance suite: every backend must pass it unchanged. Times are driven by the
 * test (claims take `now`), so leases and schedules are checked without waiting.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_POLICY } from '../../src/core/policy.js';
import { rateBurst } from '../../src/core/flow-control.js';
import { maxInWindow } from '../support/flow.js';
import { newDelivery } from '../support/new-delivery.js';
import { storeLimitsConformance } from './limits-conformance.js';
import {
  type ClaimRequest,
  type GatedClaimRequest,
  InvalidCursorError,
  type NewDelivery,
  type Store,
} from '../../src/store/store.js';

let n = 0;
function delivery(over: Partial<NewDelivery> = {}): NewDelivery {
  n++;
  return newDelivery(`hr_conf${String(n).padStart(6, '0')}${Math.random().toString(36).slice(2, 8)}`, {
    policy: { ...DEFAULT_POLICY, timeout_ms: 1000 },
    metadata: { order: n },
    created_at: 1_000_000 + n,
    ...over,
  });
}

export function storeConformance(name: string, open: () => Promise<Store>): void {
  describe(`store conformance: ${name}`, () => {
    let store: Store;
    before(async () => {
      store = await open();
      await store.migrate();
      await store.migrate(); // idempotent
      for (const id of ['acct_a', 'acct_b']) await store.createAccount({ id, name: id, created_at: 1 });
    });
    after(async () => store.close());

    it('is ready once migrated', async () => {
      assert.equal(await store.ready(), true);
      assert.deepEqual(await store.countPendingDeliveries(), { queued: 0, retrying: 0, dead_letter: 0 });
    });

    it('authenticates by key hash, lists keys without secrets, revokes', async () => {
      await store.createApiKey({ id: 'key_1', account_id: 'acct_a', mode: 'test', key_hash: 'h1', prefix: 'hp_test_abcd', created_at: 5 });
      assert.deepEqual(await store.authenticate('h1'), { key_id: 'key_1', account_id: 'acct_a', mode: 'test', suspended: false });
      assert.equal(await store.authenticate('nope'), null);
      const keys = await store.listApiKeys('acct_a');
      assert.equal(keys.length, 1);
      assert.ok(!('key_hash' in keys[0]!));
      await store.touchApiKeys([{ key_id: 'key_1', at: 77 }]);
      assert.equal((await store.listApiKeys('acct_a'))[0]!.last_used_at, 77);
      assert.equal(await store.revokeApiKey('key_1', 'acct_b', 9), false, 'another account cannot revoke it');
      assert.equal(await store.revokeApiKey('key_1', 'acct_a', 9), true);
      assert.equal(await store.revokeApiKey('key_1', 'acct_a', 10), false, 'already revoked');
      assert.equal(await store.authenticate('h1'), null);
    });

    it('adds, verifies, matches and deletes domains', async () => {
      const base = { account_id: 'acct_a', domain: 'shop.example.test', token: 't1', status: 'pending' as const, created_at: 3, verified_at: null };
      const first = await store.addDomain(base);
      assert.equal(first.created, true);
      const again = await store.addDomain({ ...base, token: 't2' });
      assert.equal(again.created, false);
      assert.equal(again.record.token, 't1', 'an existing domain keeps its record');
      assert.equal(await store.hasVerifiedDomain('acct_a', ['shop.example.test']), false);
      const v = await store.markDomainVerified('acct_a', 'shop.example.test', 4);
      assert.equal(v?.status, 'verified');
      assert.equal(v?.verified_at, 4);
      assert.equal(await store.hasVerifiedDomain('acct_a', ['x.shop.example.test', 'shop.example.test']), true);
      assert.equal(await store.hasVerifiedDomain('acct_b', ['shop.example.test']), false);
      assert.equal((await store.listDomains('acct_a')).length, 1);
      assert.equal(await store.deleteDomain('acct_b', 'shop.example.test'), false);
      assert.equal(await store.deleteDomain('acct_a', 'shop.example.test'), true);
      assert.equal(await store.getDomain('acct_a', 'shop.example.test'), null);
    });

    it('groups concurrent enqueues, keeps every field, and wakes dispatchers', async () => {
      let woken = 0;
      const off = store.onWork(() => woken++);
      const items = Array.from({ length: 50 }, () => delivery({ account_id: 'acct_b', idempotency_key: 'k' }));
      await Promise.all(items.map((d) => store.enqueueDeliveries(d.account_id, d.mode, [d])));
      off();
      assert.ok(woken >= 1);
      const got = await store.getDelivery('acct_b', 'live', items[7]!.id);
      assert.ok(got);
      const d = got.delivery;
      assert.equal(d.status, 'queued');
      assert.equal(d.attempt_count, 0);
      assert.equal(d.body!.toString(), '{"x":1}');
      assert.deepEqual(d.headers, { 'Content-Type': 'application/json' });
      assert.deepEqual(d.policy, items[7]!.policy);
      assert.deepEqual(d.metadata, items[7]!.metadata);
      assert.equal(d.idempotency_key, 'k');
      assert.equal(d.next_attempt_at, items[7]!.created_at);
      assert.deepEqual(got.attempts, []);
      assert.equal(await store.getDelivery('acct_a', 'live', items[7]!.id), null, 'other account');
      assert.equal(await store.getDelivery('acct_b', 'test', items[7]!.id), null, 'other mode');
    });

    it('pages newest first with opaque cursors and filters by status', async () => {
      const items = Array.from({ length: 12 }, () => delivery({ account_id: 'acct_a', mode: 'test' }));
      for (const d of items) await store.enqueueDeliveries(d.account_id, d.mode, [d]);
      const seen: string[] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await store.listDeliveries('acct_a', 'test', { limit: 5, ...(cursor ? { cursor } : {}) });
        seen.push(...page.rows.map((r) => r.id));
        if (!page.next_cursor) break;
        cursor = page.next_cursor;
      }
      assert.deepEqual(seen, items.map((d) => d.id).reverse());
      const delivered = await store.listDeliveries('acct_a', 'test', { limit: 5, status: 'delivered' });
      assert.deepEqual(delivered.rows, []);
      await assert.rejects(store.listDeliveries('acct_a', 'test', { limit: 5, cursor: 'garbage!' }), InvalidCursorError);
    });

    it('an RFC 3339 time as cursor lists what was created strictly before it, newest first; its next_cursor keeps that bound', async () => {
      await store.createAccount({ id: 'acct_time', name: 'acct_time', created_at: 1 });
      const T = Date.UTC(2026, 5, 10, 14, 22, 10);
      // accepted in this order; created_at is not in the same order (clocks of several processes)
      const offsets = [-5000, -4000, 0, -3000, 1, -2000, -1, 7000, -1000, -1];
      const items = offsets.map((o) => delivery({ account_id: 'acct_time', mode: 'live', created_at: T + o }));
      for (const d of items) await store.enqueueDeliveries(d.account_id, d.mode, [d]);
      const before = items.filter((d) => d.created_at < T).map((d) => d.id).reverse();
      assert.equal(before.length, 7);
      const list = (limit: number, cursor: string) => store.listDeliveries('acct_time', 'live', { limit, cursor });

      const all = await list(100, '2026-06-10T14:22:10Z');
      assert.deepEqual(all.rows.map((r) => r.id), before, 'only created strictly before, in the list order');
      assert.equal(all.next_cursor, null);
      for (const same of ['2026-06-10T16:22:10+02:00', '2026-06-10T14:22:10.000Z', '2026-06-10T10:22:10-04:00']) {
        assert.deepEqual((await list(100, same)).rows.map((r) => r.id), before, same);
      }
      // a fraction of a millisecond later: the delivery at exactly T is before it
      const atT = items.filter((d) => d.created_at <= T).map((d) => d.id).reverse();
      assert.deepEqual((await list(100, '2026-06-10T14:22:10.0001Z')).rows.map((r) => r.id), atT);

      // paging from the time: each of them exactly once, never one created at or after T
      const seen: string[] = [];
      let page = await list(2, '2026-06-10T14:22:10Z');
      for (;;) {
        assert.ok(page.rows.length <= 2);
        seen.push(...page.rows.map((r) => r.id));
        if (page.next_cursor === null) break;
        page = await list(2, page.next_cursor);
      }
      assert.deepEqual(seen, before);

      const none = await list(10, '2000-01-01T00:00:00Z');
      assert.deepEqual([none.rows, none.next_cursor], [[], null]);
      // with a filter: the time applies with it (nothing here is delivered yet)
      const filtered = await store.listDeliveries('acct_time', 'live', { limit: 10, cursor: '2026-06-10T14:22:10Z', status: 'queued' });
      assert.equal(filtered.rows.length, 7);
      assert.deepEqual(
        (await store.listDeliveries('acct_time', 'live', { limit: 10, cursor: '2026-06-10T14:22:10Z', status: 'delivered' })).rows,
        [],
      );
      await assert.rejects(list(5, '2026-06-10'), InvalidCursorError, 'a date alone is not an instant');
      await assert.rejects(list(5, '2026-06-10T14:22:10'), InvalidCursorError, 'nor a time without a zone');
    });

    it('keeps one current signing secret per (account, mode); a rotated one signs for the overlap given', async () => {
      const t = 50_000_000;
      const first = await store.ensureSigningSecret('acct_a', 'live', { secret: 'whsec_one', created_at: t, retired_at: null });
      assert.equal(first.secret, 'whsec_one');
      const again = await store.ensureSigningSecret('acct_a', 'live', { secret: 'whsec_other', created_at: t + 1, retired_at: null });
      assert.equal(again.secret, 'whsec_one', 'an existing secret is kept');
      assert.deepEqual((await store.getSigningSecrets('acct_a', 'test', 0)).length, 0, 'modes are separate');
      await store.rotateSigningSecret('acct_a', 'live', { secret: 'whsec_two', created_at: t + 100, retired_at: null });
      const within = await store.getSigningSecrets('acct_a', 'live', t + 99);
      assert.deepEqual(within.map((x) => x.secret), ['whsec_two', 'whsec_one'], 'newest first, the old one still signing');
      assert.equal(within[1]!.retired_at, t + 100);
      const afterOverlap = await store.getSigningSecrets('acct_a', 'live', t + 100);
      assert.deepEqual(afterOverlap.map((x) => x.secret), ['whsec_two'], 'past the overlap only the new one');
      const current = await store.ensureSigningSecret('acct_a', 'live', { secret: 'whsec_x', created_at: t + 200, retired_at: null });
      assert.equal(current.secret, 'whsec_two');
      const signed = delivery({ sign: true, created_at: t + 300, origin: 'https://signed.example.test' });
      const unsigned = delivery({ sign: false, created_at: t + 300, origin: 'https://signed.example.test' });
      await store.enqueueDeliveries('acct_a', 'live', [signed, unsigned]);
      const claims = await store.claimDue({ now: t + 400, limit: 10, owner: 's', leaseMarginMs: 1, origin: 'https://signed.example.test', excludeOrigins: [], secretsRetiredAfter: t + 99 });
      const byId = new Map(claims.map((c) => [c.id, c]));
      assert.deepEqual(byId.get(signed.id)?.signing_secrets, ['whsec_two', 'whsec_one'], 'a claim carries the account’s secrets, newest first');
      assert.deepEqual(byId.get(unsigned.id)?.signing_secrets, []);
    });

    it('records an idempotent response with its deliveries, once; a used key stores nothing new', async () => {
      const t = 60_000_000;
      const rec = (hash: string, at = t) => ({ key: 'idem-1', request_hash: hash, status_code: 202, response: `{"h":"${hash}"}`, created_at: at });
      const a = delivery({ account_id: 'acct_b', created_at: t });
      const b = delivery({ account_id: 'acct_b', created_at: t });
      const [first, second] = await Promise.all([
        store.enqueueDeliveries('acct_b', 'live', [a], { idempotency: rec('h1'), idempotencyNotBefore: t - 1000 }),
        store.enqueueDeliveries('acct_b', 'live', [b], { idempotency: rec('h2'), idempotencyNotBefore: t - 1000 }),
      ]);
      assert.equal(first, null, 'the first executes');
      assert.equal(second?.request_hash, 'h1', 'the second gets the first response');
      assert.equal(second?.response, '{"h":"h1"}');
      assert.ok(await store.getDelivery('acct_b', 'live', a.id));
      assert.equal(await store.getDelivery('acct_b', 'live', b.id), null, 'nothing stored for the repeat');
      assert.equal((await store.findIdempotentResponse('acct_b', 'live', 'idem-1', t - 1000))?.status_code, 202);
      assert.equal(await store.findIdempotentResponse('acct_b', 'test', 'idem-1', t - 1000), null);
      assert.equal(await store.findIdempotentResponse('acct_b', 'live', 'idem-1', t + 1), null, 'older than the window');
      // past the window the key is free again
      const c = delivery({ account_id: 'acct_b', created_at: t + 5000 });
      const reused = await store.enqueueDeliveries('acct_b', 'live', [c], { idempotency: rec('h3', t + 5000), idempotencyNotBefore: t + 1 });
      assert.equal(reused, null);
      assert.ok(await store.getDelivery('acct_b', 'live', c.id));
    });

    it('keeps destinations with their subscriptions, secrets and state, per (account, mode)', async () => {
      const t = 70_000_000;
      const base = {
        account_id: 'acct_a', mode: 'live' as const, url: 'https://d.example.test/h', origin: 'https://d.example.test',
        name: 'n', description: null, enabled: true, disabled_reason: null, headers: { 'X-A': '1' },
        policy: { ...DEFAULT_POLICY }, created_at: t, updated_at: t,
      };
      const d = await store.createDestination({ ...base, id: 'dest_c1' }, [{ id: 'sub_c1', event_type: 'order.*' }], { secret: 'whsec_d1', created_at: t, retired_at: null });
      assert.deepEqual(d.events, ['order.*']);
      assert.equal((await store.getDestination('acct_a', 'test', 'dest_c1')), null, 'other mode');
      assert.equal((await store.getDestination('acct_b', 'live', 'dest_c1')), null, 'other account');
      const again = await store.createSubscription('acct_a', 'live', 'dest_c1', { id: 'sub_c2', event_type: 'order.*' }, t + 1);
      assert.equal(again?.created, false);
      assert.equal(again?.record.id, 'sub_c1');
      assert.equal(await store.createSubscription('acct_a', 'test', 'dest_c1', { id: 'sub_c3', event_type: 'x' }, t + 1), null);
      const subscribed = await store.subscribedDestinations('acct_a', 'live');
      assert.deepEqual(subscribed.map((x) => [x.destination.id, x.patterns]), [['dest_c1', ['order.*']]]);

      // a pending delivery of this destination follows its state
      const pending = delivery({ destination_id: 'dest_c1', event_id: 'evt_c1', event_type: 'order.created', created_at: t, origin: base.origin, sign: true });
      await store.enqueueDeliveries('acct_a', 'live', [pending]);
      await store.updateDestination('acct_a', 'live', 'dest_c1', { enabled: false, disabled_reason: 'paused' }, null, t + 2);
      assert.equal((await store.subscribedDestinations('acct_a', 'live')).length, 0, 'a disabled destination gets nothing new');
      const parked = await store.claimDue({ now: t + 10_000, limit: 100, owner: 'c', leaseMarginMs: 1, origin: base.origin, excludeOrigins: [], secretsRetiredAfter: 0 });
      assert.equal(parked.length, 0, 'its pending deliveries wait');
      let woken = 0;
      const off = store.onWork(() => woken++);
      await store.updateDestination('acct_a', 'live', 'dest_c1', { name: 'renamed' }, null, t + 3);
      const wokenByRename = woken;
      const moved = await store.updateDestination('acct_a', 'live', 'dest_c1', { enabled: true, url: 'https://e.example.test/h2', origin: 'https://e.example.test' }, [{ id: 'sub_c4', event_type: 'invoice.paid' }], t + 3);
      // (PostgreSQL also hears its own NOTIFY a moment later: wait for it so nothing lands after `off`)
      await new Promise((r) => setTimeout(r, 100));
      off();
      assert.equal(wokenByRename, 0, 'a change that is not re-enabling wakes no dispatcher');
      assert.ok(woken >= 1, 're-enabling a destination wakes dispatchers (its deliveries waited)');
      assert.equal(moved?.enabled, true);
      assert.equal(moved?.disabled_reason, null);
      assert.deepEqual(moved?.events, ['invoice.paid'], 'events replaces the set');
      const resumed = await store.claimDue({ now: t + 10_000, limit: 100, owner: 'c', leaseMarginMs: 1, origin: 'https://e.example.test', excludeOrigins: [], secretsRetiredAfter: 0 });
      assert.deepEqual(resumed.map((c) => [c.id, c.target, c.destination_id, c.event_type]), [[pending.id, 'https://e.example.test/h2', 'dest_c1', 'order.created']]);
      assert.deepEqual(resumed[0]!.signing_secrets, ['whsec_d1'], 'a claim carries its destination’s secrets');

      await store.rotateDestinationSecret('acct_a', 'live', 'dest_c1', { secret: 'whsec_d2', created_at: t + 5, retired_at: null });
      assert.deepEqual((await store.getDestinationSecrets('dest_c1', t)).map((x) => x.secret), ['whsec_d2', 'whsec_d1']);
      await store.disableDestination('dest_c1', 'gone (410)', t + 6);
      assert.equal((await store.getDestination('acct_a', 'live', 'dest_c1'))?.disabled_reason, 'gone (410)');

      // deleting ends pending deliveries; an attempt in flight is still recorded
      await store.recordAttempts([{ delivery_id: pending.id, lease_token: resumed[0]!.lease_token, status: 'retrying', next_attempt_at: t + 20,
        attempt: { attempt: 1, outcome: 'failed', http_status: 500, latency_ms: 1, error: null, response_excerpt: null, created_at: t + 7 } }]);
      assert.equal(await store.deleteDestination('acct_b', 'live', 'dest_c1', 'x', t + 8), false);
      assert.equal(await store.deleteDestination('acct_a', 'live', 'dest_c1', 'deleted, sorry', t + 8), true);
      const ended = await store.getDelivery('acct_a', 'live', pending.id);
      assert.equal(ended?.delivery.status, 'dead_letter');
      assert.equal(ended?.delivery.error, 'deleted, sorry');
      assert.equal(ended?.attempts.length, 1);
      assert.equal(await store.getDestination('acct_a', 'live', 'dest_c1'), null);
      assert.deepEqual(await store.listSubscriptions('acct_a', 'live', 'dest_c1'), []);
    });

    it("deleting a destination: its pending deliveries count as dead-lettered in the overview, once each, so it agrees with the dead-letter count", async () => {
      await store.createAccount({ id: 'acct_dl', name: 'acct_dl', created_at: 1 });
      const t = 30_000_000 * 60_000; // a whole minute
      const origin = 'https://del.example.test';
      await store.createDestination(
        { id: 'dest_dl', account_id: 'acct_dl', mode: 'live', url: `${origin}/h`, origin, name: null, description: null, enabled: true,
          disabled_reason: null, headers: {}, policy: { ...DEFAULT_POLICY }, created_at: t, updated_at: t },
        [],
        { secret: 'whsec_dl', created_at: t, retired_at: null },
      );
      const items = [1, 2, 3].map((i) => delivery({ account_id: 'acct_dl', mode: 'live', origin, destination_id: 'dest_dl', created_at: t + i }));
      await store.enqueueDeliveries('acct_dl', 'live', items);
      // the first is in flight when the destination goes
      const [flying] = await store.claimDue({ now: t + 10, limit: 1, owner: 'dl', leaseMarginMs: 1, origin, excludeOrigins: [], secretsRetiredAfter: 0 });
      assert.equal(flying?.id, items[0]!.id);
      assert.equal(await store.deleteDestination('acct_dl', 'live', 'dest_dl', 'deleted', t + 20), true);
      const window = { since: t, until: t + 60 * 60_000, bucket_ms: 5 * 60_000, buckets: 12 };
      let o = await store.dashboardOverview('acct_dl', 'live', window);
      assert.equal(o.totals.dead_letter, 2, 'the two waiting ones ended as dead letters in the window');
      assert.equal(o.dead_letter, 3, 'every dead letter now');
      // the one in flight is counted by its attempt's result
      await store.recordAttempts([{ delivery_id: flying!.id, lease_token: flying!.lease_token, status: 'retrying', next_attempt_at: t + 99,
        attempt: { attempt: 1, outcome: 'failed', http_status: 500, latency_ms: 1, error: null, response_excerpt: null, created_at: t + 30 } }]);
      o = await store.dashboardOverview('acct_dl', 'live', window);
      assert.equal(o.totals.dead_letter, 3);
      assert.equal(o.dead_letter, 3);
      assert.equal(o.totals.accepted, 3);
      assert.equal((await store.dashboardOverview('acct_dl', 'test', window)).totals.dead_letter, 0, 'the other mode saw nothing');
    });

    it("keeps a destination's signature scheme; a claim carries it as the destination has it then", async () => {
      const t = 75_000_000;
      const origin = 'https://sig.example.test';
      const base = {
        account_id: 'acct_a', mode: 'live' as const, url: `${origin}/h`, origin, name: null, description: null, enabled: true,
        disabled_reason: null, headers: {}, policy: { ...DEFAULT_POLICY }, created_at: t, updated_at: t,
      };
      const secret = (s: string) => ({ secret: s, created_at: t, retired_at: null });
      const plain = await store.createDestination({ ...base, id: 'dest_sig1' }, [{ id: 'sub_sig1', event_type: 'sig.one' }], secret('whsec_s1'));
      assert.equal(plain.signature, 'standard-webhooks', 'without one: Standard Webhooks');
      const custom = { header: 'X-Acme-Signature', encoding: 'base64' as const, prefix: 'v0=', timestamped: false };
      const made = await store.createDestination({ ...base, id: 'dest_sig2', signature: custom }, [{ id: 'sub_sig2', event_type: 'sig.two' }], secret('whsec_s2'));
      assert.deepEqual(made.signature, custom);
      assert.deepEqual((await store.getDestination('acct_a', 'live', 'dest_sig2'))?.signature, custom);
      assert.deepEqual(
        (await store.listDestinations('acct_a', 'live')).filter((d) => d.id.startsWith('dest_sig')).map((d) => [d.id, d.signature]),
        [['dest_sig1', 'standard-webhooks'], ['dest_sig2', custom]],
      );
      assert.deepEqual(
        (await store.subscribedDestinations('acct_a', 'live')).filter((x) => x.destination.id === 'dest_sig2').map((x) => x.destination.signature),
        [custom],
      );

      // a change of scheme is kept; a patch without one leaves it alone
      assert.equal((await store.updateDestination('acct_a', 'live', 'dest_sig1', { signature: 'harbor' }, null, t + 1))?.signature, 'harbor');
      assert.equal((await store.updateDestination('acct_a', 'live', 'dest_sig1', { name: 'renamed' }, null, t + 2))?.signature, 'harbor');
      assert.equal((await store.getDestination('acct_a', 'live', 'dest_sig1'))?.signature, 'harbor');

      // claims carry the destination's scheme as it is at the claim; a signed send's is Standard Webhooks
      const toSig1 = delivery({ destination_id: 'dest_sig1', event_id: 'evt_sig1', event_type: 'sig.one', origin, created_at: t, sign: true });
      const toSig2 = delivery({ destination_id: 'dest_sig2', event_id: 'evt_sig2', event_type: 'sig.two', origin, created_at: t + 1, sign: true });
      const send = delivery({ origin, created_at: t + 2, sign: true });
      await store.enqueueDeliveries('acct_a', 'live', [toSig1, toSig2, send]);
      await store.updateDestination('acct_a', 'live', 'dest_sig2', { signature: 'posthawk' }, null, t + 3);
      const claimed = await store.claimDue({ now: t + 10_000, limit: 10, owner: 'sig', leaseMarginMs: 1, origin, excludeOrigins: [], secretsRetiredAfter: 0 });
      assert.deepEqual(
        claimed.map((c) => [c.id, c.signature, c.signing_secrets]),
        [
          [toSig1.id, 'harbor', ['whsec_s1']],
          [toSig2.id, 'posthawk', ['whsec_s2']],
          [send.id, 'standard-webhooks', claimed.find((c) => c.id === send.id)!.signing_secrets],
        ],
      );
      await store.releaseClaims(claimed.map((c) => ({ delivery_id: c.id, lease_token: c.lease_token })), { quiet: true });
      for (const id of ['dest_sig1', 'dest_sig2']) await store.deleteDestination('acct_a', 'live', id, 'done', t + 4);
    });

    it('stores an event with its deliveries in one commit and pages events', async () => {
      const t = 80_000_000;
      const ev = { id: 'evt_c9', account_id: 'acct_b', mode: 'test' as const, type: 'a.b', body: '{"x":1}', idempotency_key: null, metadata: null, created_at: t };
      const d = delivery({ account_id: 'acct_b', mode: 'test', event_id: 'evt_c9', event_type: 'a.b', destination_id: 'dest_none' });
      await store.enqueueDeliveries('acct_b', 'test', [d], { event: ev });
      assert.deepEqual(await store.getEvent('acct_b', 'test', 'evt_c9'), ev);
      assert.equal(await store.getEvent('acct_b', 'live', 'evt_c9'), null);
      const page = await store.listDeliveries('acct_b', 'test', { limit: 10, event_id: 'evt_c9' });
      assert.deepEqual(page.rows.map((r) => r.id), [d.id]);
      const byDest = await store.listDeliveries('acct_b', 'test', { limit: 10, destination_id: 'dest_none' });
      assert.deepEqual(byDest.rows.map((r) => r.id), [d.id]);
      const events = await store.listEvents('acct_b', 'test', { limit: 10 });
      assert.deepEqual(events.rows.map((e) => e.id), ['evt_c9']);
    });

    it('re-queues final deliveries with a fresh budget, one or in bulk by filter', async () => {
      const t = 90_000_000;
      const origin = 'https://replay.example.test';
      const items = [1, 2, 3, 4].map((i) => delivery({ account_id: 'acct_b', mode: 'live', origin, created_at: t + i, event_id: i < 3 ? 'evt_r' : null }));
      await store.enqueueDeliveries('acct_b', 'live', items);
      const claims = await store.claimDue({ now: t + 10, limit: 10, owner: 'r', leaseMarginMs: 1, origin, excludeOrigins: [], secretsRetiredAfter: 0 });
      const token = new Map(claims.map((c) => [c.id, c.lease_token]));
      const finish = (d: NewDelivery, status: 'dead_letter' | 'rejected' | 'delivered', attempt: number) =>
        store.recordAttempts([{ delivery_id: d.id, lease_token: token.get(d.id)!, status, next_attempt_at: null,
          attempt: { attempt, outcome: status === 'delivered' ? 'delivered' : status === 'rejected' ? 'rejected' : 'failed', http_status: 500, latency_ms: 1, error: null, response_excerpt: null, created_at: t } }]);
      await finish(items[0]!, 'dead_letter', 1);
      await finish(items[1]!, 'rejected', 1);
      await finish(items[2]!, 'dead_letter', 1);
      await finish(items[3]!, 'delivered', 1);

      assert.equal(await store.requeueDelivery('acct_b', 'live', items[3]!.id, t + 20), 'conflict', 'delivered cannot be replayed');
      assert.equal(await store.requeueDelivery('acct_a', 'live', items[0]!.id, t + 20), 'not_found', 'another account');
      assert.equal(await store.requeueDelivery('acct_b', 'test', items[0]!.id, t + 20), 'not_found', 'another mode');
      assert.equal(await store.requeueDelivery('acct_b', 'live', items[0]!.id, t + 20), 'requeued');
      assert.equal(await store.requeueDelivery('acct_b', 'live', items[0]!.id, t + 21), 'conflict', 'already replayed (retrying)');
      const replayed = await store.getDelivery('acct_b', 'live', items[0]!.id);
      assert.equal(replayed?.delivery.status, 'retrying', 'it has had an attempt: never queued again');
      assert.equal(replayed?.delivery.next_attempt_at, t + 20);
      assert.equal(replayed?.attempts.length, 1, 'history kept');
      const again = await store.claimDue({ now: t + 30, limit: 10, owner: 'r', leaseMarginMs: 1, origin, excludeOrigins: [], secretsRetiredAfter: 0 });
      assert.deepEqual(again.map((c) => [c.id, c.attempt_count, c.attempt_base]), [[items[0]!.id, 1, 1]], 'numbering goes on; budget from here');

      // bulk: rejected only, within the event
      assert.equal(await store.requeueDeliveries('acct_b', 'live', { statuses: ['rejected'], event_id: 'evt_r' }, 100, t + 40), 1);
      // bulk in small batches: the rest of the dead letters created before t + 4
      assert.equal(await store.requeueDeliveries('acct_b', 'live', { statuses: ['dead_letter', 'rejected'], created_before: t + 4 }, 100, t + 50), 1);
      assert.equal(await store.requeueDeliveries('acct_b', 'live', { statuses: ['dead_letter', 'rejected'] }, 100, t + 60), 0, 'nothing left to replay');
      assert.equal((await store.getDelivery('acct_b', 'live', items[2]!.id))?.delivery.status, 'retrying');
      assert.equal((await store.getDelivery('acct_b', 'live', items[3]!.id))?.delivery.status, 'delivered');
    });

    it('prunes exactly what is past its age, in batches', async () => {
      const t = 95_000_000;
      const origin = 'https://prune.example.test';
      const done = [1, 2, 3].map((i) => delivery({ account_id: 'acct_a', mode: 'test', origin, created_at: t + i }));
      const pending = delivery({ account_id: 'acct_a', mode: 'test', origin, created_at: t });
      await store.enqueueDeliveries('acct_a', 'test', [...done, pending]);
      const claims = await store.claimDue({ now: t + 10, limit: 10, owner: 'p', leaseMarginMs: 1, origin, excludeOrigins: [], secretsRetiredAfter: 0 });
      const token = new Map(claims.map((c) => [c.id, c.lease_token]));
      for (const d of done) {
        await store.recordAttempts([{ delivery_id: d.id, lease_token: token.get(d.id)!, status: 'delivered', next_attempt_at: null,
          attempt: { attempt: 1, outcome: 'delivered', http_status: 200, latency_ms: 1, error: null, response_excerpt: null, created_at: t } }]);
      }
      await store.releaseClaims([{ delivery_id: pending.id, lease_token: token.get(pending.id)! }], { quiet: true });
      const cutoff = Date.now() + 1; // everything final so far is "old"
      const first = await store.prune({ deliveriesBefore: cutoff, eventsBefore: 0, idempotencyBefore: 0, limit: 2 });
      assert.equal(first.deliveries, 2, 'one batch at a time');
      const rest = await store.prune({ deliveriesBefore: cutoff, eventsBefore: 0, idempotencyBefore: 0, limit: 1000 });
      assert.ok(rest.deliveries >= 1);
      for (const d of done) assert.equal(await store.getDelivery('acct_a', 'test', d.id), null, 'final and old: gone');
      assert.ok(await store.getDelivery('acct_a', 'test', pending.id), 'pending is never pruned');
      // events and idempotency records by their own cut-offs
      const ev = { id: 'evt_prune', account_id: 'acct_a', mode: 'test' as const, type: 'x', body: null, idempotency_key: null, metadata: null, created_at: 1000 };
      await store.enqueueDeliveries('acct_a', 'test', [], {
        event: ev,
        idempotency: { key: 'old-key', request_hash: 'h', status_code: 202, response: '{}', created_at: 1000 },
      });
      const young = await store.prune({ deliveriesBefore: 0, eventsBefore: 999, idempotencyBefore: 999, limit: 100 });
      assert.deepEqual([young.events, young.idempotency_keys], [0, 0], 'not yet past their age');
      const old = await store.prune({ deliveriesBefore: 0, eventsBefore: 1001, idempotencyBefore: 1001, limit: 100 });
      assert.deepEqual([old.events, old.idempotency_keys], [1, 1]);
      assert.equal(await store.getEvent('acct_a', 'test', 'evt_prune'), null);
      assert.equal(await store.findIdempotentResponse('acct_a', 'test', 'old-key', 0), null);
    });

    it('expedites a recovered lane: its retrying deliveries become due now, no other lane’s (not even at the same origin)', async () => {
      const t = 99_000_000;
      const origin = 'https://expedite.example.test';
      const d = delivery({ account_id: 'acct_a', mode: 'live', origin, created_at: t });
      const e = delivery({ account_id: 'acct_b', mode: 'live', origin, created_at: t });
      await store.enqueueDeliveries('acct_a', 'live', [d]);
      await store.enqueueDeliveries('acct_b', 'live', [e]);
      const claimed = await store.claimDue({ now: t + 1, limit: 2, owner: 'e', leaseMarginMs: 1, origin, excludeOrigins: [], secretsRetiredAfter: 0 });
      assert.equal(claimed.length, 2);
      await store.recordAttempts(claimed.map((c) => ({ delivery_id: c.id, lease_token: c.lease_token, status: 'retrying' as const, next_attempt_at: t + 60_000,
        attempt: { attempt: 1, outcome: 'failed' as const, http_status: 503, latency_ms: 1, error: null, response_excerpt: null, created_at: t } })));
      assert.equal((await store.claimDue({ now: t + 10, limit: 1, owner: 'e', leaseMarginMs: 1, origin, excludeOrigins: [], secretsRetiredAfter: 0 })).length, 0);
      assert.equal(await store.expediteLane({ account_id: 'acct_a', origin }, t + 10), 1);
      const due = await store.claimDue({ now: t + 10, limit: 10, owner: 'e', leaseMarginMs: 1, origin, excludeOrigins: [], secretsRetiredAfter: 0 });
      assert.deepEqual(due.map((x) => x.id), [d.id], 'acct_b’s retry at the same origin keeps its own schedule');
      assert.equal(await store.expediteLane({ account_id: 'acct_a', origin: 'https://other.example.test' }, t + 10), 0);
    });

    it('claims due work in batches under a lease; an expired lease makes it due again', async () => {
      // drain whatever earlier tests left due
      await store.claimDue({ now: 10_000_000, limit: 10_000, owner: 'drain', leaseMarginMs: 1e12, excludeOrigins: [], secretsRetiredAfter: 0 });
      const t = 20_000_000;
      const items = [1, 2, 3].map((i) => delivery({ created_at: t + i, origin: 'https://lease.example.test' }));
      await store.enqueueDeliveries('acct_a', 'live', items);
      const early = await store.claimDue({ now: t, limit: 10, owner: 'w1', leaseMarginMs: 500, excludeOrigins: [], secretsRetiredAfter: 0 });
      assert.equal(early.length, 0, 'not due before created_at');
      const first = await store.claimDue({ now: t + 10, limit: 2, owner: 'w1', leaseMarginMs: 500, excludeOrigins: [], secretsRetiredAfter: 0 });
      assert.deepEqual(first.map((d) => d.id), [items[0]!.id, items[1]!.id], 'oldest due first, batch limit');
      assert.equal(first[0]!.attempt_count, 0);
      const rest = await store.claimDue({ now: t + 10, limit: 10, owner: 'w2', leaseMarginMs: 500, excludeOrigins: [], secretsRetiredAfter: 0 });
      assert.deepEqual(rest.map((d) => d.id), [items[2]!.id], 'leased work is not claimed twice');
      // lease = timeout_ms (1000) + margin (500)
      const during = await store.claimDue({ now: t + 1500, limit: 10, owner: 'w2', leaseMarginMs: 500, excludeOrigins: [], secretsRetiredAfter: 0 });
      assert.equal(during.length, 0);
      const lane = (await store.pendingLanes()).find((l) => l.account_id === 'acct_a' && l.origin === 'https://lease.example.test');
      assert.equal(lane?.next_at, t + 1510, 'the lane is next due when the first lease runs out');
      const again = await store.claimDue({ now: t + 1511, limit: 10, owner: 'w2', leaseMarginMs: 500, excludeOrigins: [], secretsRetiredAfter: 0 });
      assert.equal(again.length, 3, 'the dead holder’s leases ran out');
      assert.notEqual(again[0]!.lease_token, first[0]!.lease_token);

      // the old holder's result is discarded; the new holder's is kept
      await store.recordAttempts([
        { delivery_id: items[0]!.id, lease_token: first[0]!.lease_token, status: 'delivered', next_attempt_at: null,
          attempt: { attempt: 1, outcome: 'delivered', http_status: 200, latency_ms: 5, error: null, response_excerpt: 'old', created_at: t } },
      ]);
      let d = await store.getDelivery('acct_a', 'live', items[0]!.id);
      assert.equal(d!.delivery.status, 'queued');
      assert.deepEqual(d!.attempts, []);
      const byId = new Map(again.map((c) => [c.id, c]));
      await store.recordAttempts([
        { delivery_id: items[0]!.id, lease_token: byId.get(items[0]!.id)!.lease_token, status: 'retrying', next_attempt_at: t + 5000,
          attempt: { attempt: 1, outcome: 'failed', http_status: 503, latency_ms: 7, error: null, response_excerpt: 'busy', created_at: t + 1600 } },
      ]);
      d = await store.getDelivery('acct_a', 'live', items[0]!.id);
      assert.equal(d!.delivery.status, 'retrying');
      assert.equal(d!.delivery.attempt_count, 1);
      assert.equal(d!.delivery.last_status, 503);
      assert.equal(d!.delivery.next_attempt_at, t + 5000);
      assert.deepEqual(d!.attempts, [
        { attempt: 1, outcome: 'failed', http_status: 503, latency_ms: 7, error: null, response_excerpt: 'busy', created_at: t + 1600 },
      ]);
      const notYet = await store.claimDue({ now: t + 3000, limit: 10, owner: 'w3', leaseMarginMs: 500, excludeOrigins: [], secretsRetiredAfter: 0 });
      assert.ok(!notYet.some((c) => c.id === items[0]!.id), 'a retry is not due before its time');
      // give the other two back unattempted: due again at once
      await store.releaseClaims([1, 2].map((i) => ({ delivery_id: items[i]!.id, lease_token: byId.get(items[i]!.id)!.lease_token })));
      const excluded = await store.claimDue({ now: t + 5000, limit: 10, owner: 'w3', leaseMarginMs: 500, excludeOrigins: ['https://lease.example.test'], secretsRetiredAfter: 0 });
      assert.equal(excluded.length, 0, 'origins at their cap are left out');
      const retry = await store.claimDue({ now: t + 5000, limit: 10, owner: 'w3', leaseMarginMs: 500, excludeOrigins: [], secretsRetiredAfter: 0 });
      assert.deepEqual(new Set(retry.map((c) => c.id)), new Set(items.map((i) => i.id)));
      assert.equal(retry.find((c) => c.id === items[0]!.id)!.attempt_count, 1);
    });

    it('one commit: a key whose call is refused (backlog_full) is free again for a later call of the same commit; a call after that gets its answer', async () => {
      const { BacklogFullError } = await import('../../src/store/store.js');
      const t = 61_000_000;
      const acct = `acct_idem_full${Math.random().toString(36).slice(2, 8)}`;
      await store.createAccount({ id: acct, name: acct, created_at: 1, limits: { max_pending_deliveries: 2 } });
      const limits = { max_destinations: 3, max_keys: 3, max_domains: 3, max_pending_deliveries: 100 };
      const rec = (key: string, hash: string) => ({ key, request_hash: hash, status_code: 202, response: `{"h":"${hash}"}`, created_at: t });
      const sends = [3, 1, 1, 1, 1].map((count) => Array.from({ length: count }, () => delivery({ account_id: acct, created_at: t })));
      const keys = ['k-1', 'k-1', 'k-1', 'k-2', 'k-3'];
      // all in one turn of the event loop: one commit, the calls in this order
      const results = await Promise.allSettled(
        sends.map((ds, i) => store.enqueueDeliveries(acct, 'live', ds, { limits, idempotency: rec(keys[i]!, `h${i}`), idempotencyNotBefore: t - 1000 })),
      );
      assert.deepEqual(results.map((r) => r.status), ['rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
      assert.ok((results[0] as PromiseRejectedResult).reason instanceof BacklogFullError, 'too many for the backlog');
      assert.equal((results[1] as PromiseFulfilledResult<unknown>).value, null, 'the key is free again: the second call takes it');
      assert.equal((results[2] as PromiseFulfilledResult<{ request_hash: string } | null>).value?.request_hash, 'h1', 'the third gets the second’s answer');
      assert.equal((results[3] as PromiseFulfilledResult<unknown>).value, null);
      assert.ok((results[4] as PromiseRejectedResult).reason instanceof BacklogFullError, 'the calls before it in the commit count');
      assert.equal((await store.findIdempotentResponse(acct, 'live', 'k-1', t - 1000))?.request_hash, 'h1');
      assert.equal((await store.findIdempotentResponse(acct, 'live', 'k-2', t - 1000))?.request_hash, 'h3');
      assert.equal(await store.findIdempotentResponse(acct, 'live', 'k-3', t - 1000), null, 'a refused call keeps no record');
      const stored = await Promise.all(sends.flat().map((d) => store.getDelivery(acct, 'live', d.id)));
      assert.deepEqual(stored.map((d) => d !== null), [false, false, false, true, false, true, false]);
    });

    it('one commit: a call whose key is used gets the earlier answer, stores nothing and takes no room in the backlog', async () => {
      const t = 62_000_000;
      const acct = `acct_idem_used${Math.random().toString(36).slice(2, 8)}`;
      await store.createAccount({ id: acct, name: acct, created_at: 1, limits: { max_pending_deliveries: 2 } });
      const limits = { max_destinations: 3, max_keys: 3, max_domains: 3, max_pending_deliveries: 100 };
      const rec = (hash: string) => ({ key: 'k-used', request_hash: hash, status_code: 202, response: `{"h":"${hash}"}`, created_at: t });
      const first = delivery({ account_id: acct, created_at: t });
      assert.equal(await store.enqueueDeliveries(acct, 'live', [first], { limits, idempotency: rec('h1'), idempotencyNotBefore: t - 1000 }), null);
      const repeat = delivery({ account_id: acct, created_at: t });
      const other = delivery({ account_id: acct, created_at: t });
      const [again, fits] = await Promise.all([
        store.enqueueDeliveries(acct, 'live', [repeat], { limits, idempotency: rec('h2'), idempotencyNotBefore: t - 1000 }),
        store.enqueueDeliveries(acct, 'live', [other], { limits }),
      ]);
      assert.deepEqual(again, { key: 'k-used', request_hash: 'h1', status_code: 202, response: '{"h":"h1"}', created_at: t });
      assert.equal(fits, null, 'the repeat took no room');
      assert.equal(await store.getDelivery(acct, 'live', repeat.id), null);
      assert.ok(await store.getDelivery(acct, 'live', other.id));
      assert.equal((await store.accountUsage(acct)).pending_deliveries, 2);
    });
  });
  // flow control and lanes: a section of its own (below), on stores of its own
  storeFlowControlConformance(name, open);
  storeAccountsConformance(name, open);
  storeLimitsConformance(name, open);
}

/**
 * Flow control (rate_limit / max_in_flight per destination) and parked origins. Each case gets a
 * store of its own: claimGated looks at every destination with limits, so cases must not see
 * each other's work. Times are the test's (`now` is passed in), so nothing here waits.
 */
export function storeFlowControlConformance(name: string, open: () => Promise<Store>): void {
  describe(`store conformance: ${name}: flow control and lanes`, () => {
    const ACCT = 'acct_f';
    const opened: Store[] = [];
    after(async () => {
      for (const s of opened) await s.close();
    });

    async function fresh(): Promise<Store> {
      const s = await open();
      opened.push(s);
      await s.migrate();
      await s.createAccount({ id: ACCT, name: ACCT, created_at: 1 });
      return s;
    }

    async function destination(
      s: Store,
      id: string,
      origin: string,
      limits: { rate_limit?: { per_second: number } | null; max_in_flight?: number | null },
      t: number,
    ) {
      return s.createDestination(
        {
          id, account_id: ACCT, mode: 'live', url: `${origin}/hook`, origin, name: null, description: null,
          enabled: true, disabled_reason: null, headers: {}, policy: { ...DEFAULT_POLICY, timeout_ms: 1000 },
          created_at: t, updated_at: t, ...limits,
        },
        [],
        { secret: `whsec_${id}`, created_at: t, retired_at: null },
      );
    }

    /** `count` deliveries of destination `dest` (at `origin`), due from `t` (one ms apart). */
    async function deliveriesOf(s: Store, dest: string | null, origin: string, count: number, t: number) {
      const items = Array.from({ length: count }, (_, i) =>
        delivery({ account_id: ACCT, mode: 'live', origin, target: `${origin}/hook`, destination_id: dest, created_at: t + i }),
      );
      await s.enqueueDeliveries(ACCT, 'live', items);
      return items;
    }

    const claimAll = (s: Store, now: number, extra: Partial<ClaimRequest> = {}) =>
      s.claimDue({ now, limit: 1000, owner: 'g', leaseMarginMs: 500, excludeOrigins: [], secretsRetiredAfter: 0, ...extra });
    const gated = (s: Store, now: number, extra: Partial<GatedClaimRequest> = {}) =>
      s.claimGated({ now, limit: 1000, owner: 'g', leaseMarginMs: 500, secretsRetiredAfter: 0, room: () => ({ lane: 1000, origin: 1000, account: 1000 }), ...extra });
    const delivered = (s: Store, c: { id: string; lease_token: string }, at: number) =>
      s.recordAttempts([{ delivery_id: c.id, lease_token: c.lease_token, status: 'delivered', next_attempt_at: null,
        attempt: { attempt: 1, outcome: 'delivered', http_status: 200, latency_ms: 1, error: null, response_excerpt: null, created_at: at } }]);

    it('without any limited destination: claimGated finds no gates and claims nothing; claimDue takes the work ungated', async () => {
      const s = await fresh();
      const t = 100_000_000;
      const origin = 'https://free.example.test';
      await destination(s, 'dest_free', origin, {}, t);
      const items = await deliveriesOf(s, 'dest_free', origin, 3, t);
      assert.deepEqual(await gated(s, t + 10), { claimed: [], nextAt: null, anyGates: false, inFlightBound: false });
      const due = await claimAll(s, t + 10);
      assert.deepEqual(due.map((c) => c.id), items.map((d) => d.id));
      assert.deepEqual(due.map((c) => c.gate), [null, null, null]);
      assert.deepEqual(await gated(s, t + 20), { claimed: [], nextAt: null, anyGates: false, inFlightBound: false });
    });

    it('claims under max_in_flight: unexpired leases count, an expired lease does not; claimDue never takes gated work', async () => {
      const s = await fresh();
      const t = 110_000_000;
      const origin = 'https://cap.example.test';
      const dest = await destination(s, 'dest_cap', origin, { max_in_flight: 2 }, t);
      assert.equal(dest.max_in_flight, 2);
      assert.equal(dest.rate_limit, null);
      const items = await deliveriesOf(s, 'dest_cap', origin, 6, t);
      const ids = new Set(items.map((d) => d.id));

      assert.deepEqual(await claimAll(s, t + 10), [], 'a general claim leaves gated deliveries alone');
      assert.deepEqual(await claimAll(s, t + 10, { origin }), [], 'so does a claim by origin');

      const first = await gated(s, t + 10);
      assert.equal(first.anyGates, true);
      assert.equal(first.claimed.length, 2, 'max_in_flight 2');
      for (const c of first.claimed) {
        assert.ok(ids.has(c.id));
        assert.equal(c.gate, 'dest_cap');
        assert.equal(c.destination_id, 'dest_cap');
      }
      assert.equal(first.inFlightBound, true, 'due work is left and the cap is what holds it');

      const again = await gated(s, t + 10);
      assert.equal(again.claimed.length, 0, 'both leases are live: nothing more');
      assert.equal(again.inFlightBound, true);
      assert.equal(again.anyGates, true);

      // one finishes: one slot frees
      await delivered(s, first.claimed[0]!, t + 20);
      const third = await gated(s, t + 30);
      assert.equal(third.claimed.length, 1, 'a finished attempt frees its slot');
      assert.ok(!first.claimed.some((c) => c.id === third.claimed[0]!.id));
      assert.equal((await gated(s, t + 30)).claimed.length, 0);

      // leases: timeout_ms 1000 + margin 500. first.claimed[1] (claimed at t+10) runs out at t+1510,
      // third's (claimed at t+30) at t+1530: in between only third's counts
      const between = await gated(s, t + 1515);
      assert.equal(between.claimed.length, 1, 'an expired lease no longer counts against max_in_flight (a live one does)');
      assert.equal((await gated(s, t + 1515)).claimed.length, 0);
      assert.deepEqual(await claimAll(s, t + 100_000), [], 'gated work never reaches claimDue, however late');
      assert.deepEqual(await claimAll(s, t + 100_000, { origin }), []);
    });

    it('claims under a rate: a burst at most, nothing more at once, more later; no 1 s window exceeds N + burst', async () => {
      const s = await fresh();
      const t = 120_000_000;
      const origin = 'https://rate.example.test';
      const perSecond = 20;
      const burst = rateBurst(perSecond); // 2
      const dest = await destination(s, 'dest_rate', origin, { rate_limit: { per_second: perSecond } }, t);
      assert.deepEqual(dest.rate_limit, { per_second: perSecond });
      assert.equal(dest.max_in_flight, null);
      await deliveriesOf(s, 'dest_rate', origin, 200, t - 1000);
      assert.deepEqual(await claimAll(s, t), []);

      // no room for its origin: nothing claimed, and the rate's allowance is not used up by that
      const noRoom = await gated(s, t, { room: () => ({ lane: 1000, origin: 0, account: 1000 }) });
      assert.equal(noRoom.claimed.length, 0);
      const first = await gated(s, t);
      assert.equal(first.claimed.length, burst, `an idle destination starts a full burst (${burst}) at once, untouched by the claim without room`);
      assert.ok(first.claimed.every((c) => c.gate === 'dest_rate'));
      const second = await gated(s, t);
      assert.equal(second.claimed.length, 0, 'nothing beyond the burst at one instant');
      const third = await gated(s, t);
      assert.equal(third.claimed.length, 0, 'nothing beyond the burst at one instant');
      assert.equal(third.inFlightBound, false, 'no max_in_flight');
      assert.ok(third.nextAt !== null && third.nextAt > t, `nextAt ${third.nextAt} is in the future`);
      assert.ok(third.nextAt <= t + 1000, `nextAt ${third.nextAt - t} ms ahead: within a second at ${perSecond}/s`);
      const later = await gated(s, third.nextAt);
      assert.ok(later.claimed.length >= 1, 'at nextAt one more may start');

      // drive it for 3 s in 7 ms steps: every 1 s window holds at most N + burst starts
      const starts: number[] = [];
      for (let now = third.nextAt; now <= t + 3000; now += 7) {
        const r = await gated(s, now, { leaseMarginMs: 1e9 });
        for (let i = 0; i < r.claimed.length; i++) starts.push(now);
        if (r.claimed.length === 0) assert.ok(r.nextAt !== null && r.nextAt > now, `held back at ${now - t}: nextAt ahead`);
      }
      starts.push(...[...first.claimed, ...second.claimed].map(() => t), ...later.claimed.map(() => third.nextAt!));
      const worst = maxInWindow(starts, 1000).count;
      assert.ok(worst <= perSecond + burst, `${worst} starts in one 1 s window (limit ${perSecond} + ${burst})`);
      // and the rate does let work through: about 60 in 3 s
      assert.ok(starts.length >= 2 * perSecond, `${starts.length} starts in 3 s at ${perSecond}/s`);
      assert.ok(starts.length <= 3 * perSecond + burst + 1, `${starts.length} starts in 3 s at ${perSecond}/s`);
    });

    it('claims no more than room (per lane, origin and account) and limit allow', async () => {
      const s = await fresh();
      const t = 130_000_000;
      const a = 'https://room-a.example.test';
      const b = 'https://room-b.example.test';
      await destination(s, 'dest_room_a', a, { max_in_flight: 10 }, t);
      await destination(s, 'dest_room_b', b, { rate_limit: { per_second: 1000 } }, t);
      await deliveriesOf(s, 'dest_room_a', a, 6, t);
      await deliveriesOf(s, 'dest_room_b', b, 6, t);
      const asked: string[] = [];
      const roomFor = (n: number) => ({ lane: 1000, origin: n, account: 1000 });
      const r = await gated(s, t + 10, { room: (l) => (asked.push(`${l.account_id} ${l.origin}`), roomFor(l.origin === a ? 2 : 0)) });
      assert.ok(asked.includes(`${ACCT} ${a}`), 'room is asked for the gate’s lane (account and origin)');
      assert.equal(r.claimed.filter((c) => c.origin === a).length, 2, 'room 2 for origin a');
      assert.equal(r.claimed.filter((c) => c.origin === b).length, 0, 'room 0 for origin b');
      const limited = await gated(s, t + 10, { limit: 1 });
      assert.equal(limited.claimed.length, 1, 'limit in all');
      const rest = await gated(s, t + 10, { room: (l) => roomFor(l.origin === a ? 1 : 3) });
      assert.equal(rest.claimed.filter((c) => c.origin === a).length, 1);
      assert.ok(rest.claimed.filter((c) => c.origin === b).length <= 3);
      // an account's room is shared by its gates at every origin; a lane's own room (its breaker) binds too
      const shared = await gated(s, t + 20, { room: () => ({ lane: 1000, origin: 1000, account: 2 }) });
      assert.equal(shared.claimed.length, 2, 'the account’s room of 2, over both its gates');
      const byLane = await gated(s, t + 30, { room: (l) => ({ lane: l.origin === a ? 0 : 1, origin: 1000, account: 1000 }) });
      assert.deepEqual(byLane.claimed.map((c) => c.origin), [b], 'lane room 0 for a, 1 for b');
    });

    it('setting limits gates pending deliveries; lifting them makes the pending ones claimable by claimDue', async () => {
      const s = await fresh();
      const t = 140_000_000;
      const origin = 'https://lift.example.test';
      await destination(s, 'dest_lift', origin, { max_in_flight: 1 }, t);
      const items = await deliveriesOf(s, 'dest_lift', origin, 4, t);
      const [one] = (await gated(s, t + 10)).claimed;
      assert.ok(one);
      assert.deepEqual(await claimAll(s, t + 20), []);
      assert.equal((await gated(s, t + 20)).claimed.length, 0, 'at its cap');

      // a change between limits keeps them gated
      const changed = await s.updateDestination(ACCT, 'live', 'dest_lift', { rate_limit: { per_second: 5 }, max_in_flight: null }, null, t + 30);
      assert.deepEqual([changed?.rate_limit, changed?.max_in_flight], [{ per_second: 5 }, null]);
      assert.deepEqual(await claimAll(s, t + 40), [], 'still gated under a rate limit');

      const lifted = await s.updateDestination(ACCT, 'live', 'dest_lift', { rate_limit: null, max_in_flight: null }, null, t + 50);
      assert.deepEqual([lifted?.rate_limit, lifted?.max_in_flight], [null, null]);
      const freed = await claimAll(s, t + 60);
      assert.deepEqual(
        freed.map((c) => c.id).sort(),
        items.filter((d) => d.id !== one.id).map((d) => d.id).sort(),
        'the pending ones (not the one in flight) are claimable by claimDue',
      );
      assert.deepEqual(freed.map((c) => c.gate), freed.map(() => null));
      const afterLift = await gated(s, t + 70);
      assert.equal(afterLift.anyGates, false, 'no destination has limits any more');
      assert.equal(afterLift.claimed.length, 0);
      // the attempt in flight still records
      await delivered(s, one, t + 80);
      assert.equal((await s.getDelivery(ACCT, 'live', one.id))?.delivery.status, 'delivered');

      // and the other way: limits set on a destination with pending work gate it
      const more = await deliveriesOf(s, 'dest_lift', origin, 3, t + 100);
      await s.updateDestination(ACCT, 'live', 'dest_lift', { max_in_flight: 2 }, null, t + 110);
      assert.deepEqual(await claimAll(s, t + 120), [], 'newly limited: out of claimDue');
      // the three freed above are still in flight (leased until t + 1560): they count against the new cap
      const capped = await gated(s, t + 120);
      assert.equal(capped.claimed.length, 0, 'attempts in flight when the cap was set count against it');
      assert.equal(capped.inFlightBound, true);
      for (const c of freed) await delivered(s, c, t + 125);
      const g = await gated(s, t + 130);
      assert.equal(g.claimed.length, 2);
      assert.ok(g.claimed.every((c) => c.gate === 'dest_lift' && more.some((d) => d.id === c.id)));
      // new deliveries of a limited destination are gated as they are inserted
      await deliveriesOf(s, 'dest_lift', origin, 1, t + 130);
      assert.deepEqual(await claimAll(s, t + 140), []);
      assert.deepEqual(await claimAll(s, t + 140, { origin }), []);
    });

    it('a replayed dead letter of a limited destination comes back gated (also when the limit came after it died)', async () => {
      const s = await fresh();
      const t = 150_000_000;
      const origin = 'https://replay-gated.example.test';
      await destination(s, 'dest_rg', origin, { max_in_flight: 3 }, t);
      await destination(s, 'dest_rg2', origin, {}, t);
      const [limitedOne] = await deliveriesOf(s, 'dest_rg', origin, 1, t);
      const [laterLimited] = await deliveriesOf(s, 'dest_rg2', origin, 1, t);
      const [c1] = (await gated(s, t + 10)).claimed;
      const [c2] = await claimAll(s, t + 10);
      assert.equal(c1?.id, limitedOne!.id);
      assert.equal(c2?.id, laterLimited!.id);
      for (const c of [c1!, c2!]) {
        await s.recordAttempts([{ delivery_id: c.id, lease_token: c.lease_token, status: 'dead_letter', next_attempt_at: null,
          attempt: { attempt: 1, outcome: 'failed', http_status: 500, latency_ms: 1, error: null, response_excerpt: null, created_at: t + 20 } }]);
      }
      await s.updateDestination(ACCT, 'live', 'dest_rg2', { rate_limit: { per_second: 100 } }, null, t + 30);

      assert.equal(await s.requeueDelivery(ACCT, 'live', limitedOne!.id, t + 40), 'requeued');
      assert.equal(await s.requeueDeliveries(ACCT, 'live', { statuses: ['dead_letter'], destination_id: 'dest_rg2' }, 10, t + 40), 1);
      assert.deepEqual(await claimAll(s, t + 50), [], 'replayed deliveries of limited destinations are not in claimDue');
      assert.deepEqual(await claimAll(s, t + 50, { origin }), []);
      const g = await gated(s, t + 50);
      assert.deepEqual(
        g.claimed.map((c) => [c.id, c.gate, c.attempt_count, c.attempt_base]).sort(),
        [[limitedOne!.id, 'dest_rg', 1, 1], [laterLimited!.id, 'dest_rg2', 1, 1]].sort(),
      );
    });

    /** `count` ungated deliveries of `account` at `origin`, due from `t` (one ms apart). */
    async function laneDeliveries(s: Store, account: string, origin: string, count: number, t: number) {
      const items = Array.from({ length: count }, (_, i) =>
        delivery({ account_id: account, mode: 'live', origin, target: `${origin}/hook`, created_at: t + i }),
      );
      await s.enqueueDeliveries(account, 'live', items);
      return items;
    }
    const claimLanes = (s: Store, now: number, lanes: Array<[string, string, number]>, leaseMarginMs = 500) =>
      s.claimLanes({ now, owner: 'l', leaseMarginMs, secretsRetiredAfter: 0, lanes: lanes.map(([account_id, origin, limit]) => ({ account_id, origin, limit })) });
    const ids = (xs: ReadonlyArray<{ id: string }>) => xs.map((x) => x.id);
    const statusOf = async (s: Store, account: string, id: string) => (await s.getDelivery(account, 'live', id))!.delivery;

    it('claimLanes takes up to each named lane’s limit, oldest due first, and nothing of lanes not named; leased work is not taken twice', async () => {
      const s = await fresh();
      await s.createAccount({ id: 'acct_g', name: 'g', created_at: 1 });
      const t = 160_000_000;
      const x = 'https://lane-x.example.test';
      const y = 'https://lane-y.example.test';
      const flood = await laneDeliveries(s, ACCT, x, 50, t); // a deep backlog of one account at x
      const gx = await laneDeliveries(s, 'acct_g', x, 3, t + 100); // another account at the same origin
      const gy = await laneDeliveries(s, 'acct_g', y, 2, t + 100);
      const [notYet] = await laneDeliveries(s, 'acct_g', x, 1, t + 10_000);
      const first = await claimLanes(s, t + 1000, [[ACCT, x, 5], ['acct_g', x, 10]]);
      assert.deepEqual(ids(first.filter((c) => c.account_id === ACCT)), ids(flood.slice(0, 5)), 'the 5 oldest of the deep lane');
      assert.deepEqual(ids(first.filter((c) => c.account_id === 'acct_g')).sort(), ids(gx).sort(), 'all 3 due of the other lane at x');
      assert.ok(!first.some((c) => c.origin === y), 'a lane not named is left alone');
      assert.ok(first.every((c) => c.lease_token !== ''));
      const second = await claimLanes(s, t + 1000, [[ACCT, x, 5], ['acct_g', x, 10], ['acct_g', y, 0]]);
      assert.deepEqual(ids(second), ids(flood.slice(5, 10)), 'the next 5; leased ones and what is not due yet stay; limit 0 takes nothing');
      assert.ok(!second.some((c) => c.id === notYet!.id));
      const ofY = await claimLanes(s, t + 1000, [['acct_g', y, 10]]);
      assert.deepEqual(ids(ofY).sort(), ids(gy).sort());
    });

    it('pendingLanes names each lane with waiting work once, with when its first delivery is due or its lease ends; not final, gated or suspended work', async () => {
      const s = await fresh();
      await s.createAccount({ id: 'acct_g', name: 'g', created_at: 1 });
      await s.createAccount({ id: 'acct_h', name: 'h', created_at: 1 });
      const t = 165_000_000;
      const x = 'https://pending-x.example.test';
      const y = 'https://pending-y.example.test';
      const z = 'https://pending-z.example.test';
      await laneDeliveries(s, ACCT, x, 20, t);
      await laneDeliveries(s, 'acct_g', x, 2, t + 50);
      const [gy] = await laneDeliveries(s, 'acct_g', y, 1, t + 70);
      await laneDeliveries(s, 'acct_h', y, 1, t + 80);
      await destination(s, 'dest_pending', z, { max_in_flight: 3 }, t);
      await deliveriesOf(s, 'dest_pending', z, 2, t); // gated: claimed through its gate, not a lane
      await s.updateAccount('acct_h', { suspended: true }, t);
      const sorted = (ls: Awaited<ReturnType<Store['pendingLanes']>>) =>
        ls.map((l) => [l.account_id, l.origin, l.next_at]).sort((p, q) => String(p).localeCompare(String(q)));
      assert.deepEqual(sorted(await s.pendingLanes()), sorted([
        { account_id: ACCT, origin: x, next_at: t },
        { account_id: 'acct_g', origin: x, next_at: t + 50 },
        { account_id: 'acct_g', origin: y, next_at: t + 70 },
      ]));
      const [c] = await claimLanes(s, t + 100, [['acct_g', y, 1]]);
      assert.equal(c?.id, gy!.id);
      const lease = (await s.pendingLanes()).find((l) => l.account_id === 'acct_g' && l.origin === y);
      assert.equal(lease?.next_at, t + 100 + 1000 + 500, 'in flight: its lease end (timeout 1000 + margin 500)');
      await delivered(s, c!, t + 200);
      assert.ok(!(await s.pendingLanes()).some((l) => l.account_id === 'acct_g' && l.origin === y), 'delivered: nothing waits in it');
    });

    it('no claim takes the deliveries of a suspended account: they wait untouched and are claimed once it is resumed', async () => {
      const s = await fresh();
      await s.createAccount({ id: 'acct_g', name: 'g', created_at: 1 });
      const t = 170_000_000;
      const x = 'https://suspended.example.test';
      const plain = await laneDeliveries(s, 'acct_g', x, 2, t);
      await s.createDestination(
        {
          id: 'dest_susp', account_id: 'acct_g', mode: 'live', url: `${x}/gated`, origin: x, name: null, description: null,
          enabled: true, disabled_reason: null, headers: {}, policy: { ...DEFAULT_POLICY, timeout_ms: 1000 },
          created_at: t, updated_at: t, max_in_flight: 5,
        },
        [],
        { secret: 'whsec_susp', created_at: t, retired_at: null },
      );
      const [gatedItem] = Array.from({ length: 1 }, () =>
        delivery({ account_id: 'acct_g', mode: 'live', origin: x, target: `${x}/gated`, destination_id: 'dest_susp', created_at: t }),
      );
      await s.enqueueDeliveries('acct_g', 'live', [gatedItem!]);
      await s.updateAccount('acct_g', { suspended: true }, t);
      assert.deepEqual(await claimLanes(s, t + 10, [['acct_g', x, 10]]), []);
      assert.deepEqual(await claimAll(s, t + 10), []);
      assert.deepEqual(await claimAll(s, t + 10, { origin: x }), []);
      assert.deepEqual((await gated(s, t + 10)).claimed, []);
      for (const d of [...plain, gatedItem!]) {
        const r = await statusOf(s, 'acct_g', d.id);
        assert.deepEqual([r.status, r.attempt_count], ['queued', 0], 'waiting, untouched');
      }
      await s.updateAccount('acct_g', { suspended: false }, t + 20);
      assert.deepEqual(ids(await claimLanes(s, t + 30, [['acct_g', x, 10]])).sort(), ids(plain).sort());
      assert.deepEqual(ids((await gated(s, t + 30)).claimed), [gatedItem!.id]);
    });

    it('expireHeld ends a lane’s deliveries due by the bound — gated or not, never one in flight — as dead letters with the error, in batches; other lanes untouched', async () => {
      const s = await fresh();
      await s.createAccount({ id: 'acct_g', name: 'g', created_at: 1 });
      const MINUTE = 60_000;
      const t = 2_900_000 * MINUTE; // a whole minute
      const x = 'https://held.example.test';
      const old = await laneDeliveries(s, ACCT, x, 5, t);
      const recent = await laneDeliveries(s, ACCT, x, 2, t + 5000);
      await destination(s, 'dest_held', x, { max_in_flight: 10 }, t);
      const [oldGated] = await deliveriesOf(s, 'dest_held', x, 1, t + 1);
      const [otherAccount] = await laneDeliveries(s, 'acct_g', x, 1, t);
      const [flying] = await claimLanes(s, t + 10, [[ACCT, x, 1]], 1e9);
      assert.equal(flying?.id, old[0]!.id);
      const expire = (limit: number) =>
        s.expireHeld({ account_id: ACCT, origin: x, dueBefore: t + 1000, now: t + 6000, error: 'The target was unavailable since then', limit });
      assert.equal(await expire(2), 2, 'a batch at most');
      assert.equal(await expire(10), 3, 'the rest: 2 more ungated, then the gated one');
      assert.equal(await expire(10), 0);
      for (const d of [...old.slice(1), oldGated!]) {
        const r = await statusOf(s, ACCT, d.id);
        assert.deepEqual([r.status, r.error, r.next_attempt_at, r.attempt_count], ['dead_letter', 'The target was unavailable since then', null, 0]);
      }
      assert.equal((await statusOf(s, ACCT, old[0]!.id)).status, 'queued', 'the one in flight keeps its lease');
      for (const d of recent) assert.equal((await statusOf(s, ACCT, d.id)).status, 'queued', 'due after the bound: kept');
      assert.equal((await statusOf(s, 'acct_g', otherAccount!.id)).status, 'queued', 'another account’s lane at the same origin: kept');
      assert.deepEqual(ids(await claimLanes(s, t + 6000, [[ACCT, x, 10]])), ids(recent), 'what is left is still claimed');
      const overview = await s.dashboardOverview(ACCT, 'live', { since: t, until: t + 60 * MINUTE, bucket_ms: 5 * MINUTE, buckets: 12 });
      assert.equal(overview.totals.dead_letter, 5, 'counted as dead-lettered in the window');
      assert.equal(overview.dead_letter, 5);
    });
  });
}

/**
 * Accounts as the operator sees them (operator API): the list, usage, changes, suspension and
 * erasure. A store of its own, so that counting and erasing see only what these cases made.
 */
export function storeAccountsConformance(name: string, open: () => Promise<Store>): void {
  describe(`store conformance: ${name}: accounts (operator)`, () => {
    let store: Store;
    before(async () => {
      store = await open();
      await store.migrate();
    });
    after(async () => store.close());

    const key = (id: string, account_id: string, mode: 'live' | 'test', t: number) =>
      store.createApiKey({ id, account_id, mode, key_hash: `hash_${id}`, prefix: 'hp_live_xxxx', created_at: t });
    const session = (id: string, account_id: string, t: number) =>
      store.redeemLoginToken(`token_${id}`, { id_hash: `sess_${id}`, csrf_token: 'c', created_at: t, expires_at: t + 60_000 }, t);
    const loginToken = (id: string, account_id: string, t: number) =>
      store.createLoginToken({ token_hash: `token_${id}`, account_id, mode: 'live', created_at: t, expires_at: t + 60_000 });

    it('lists accounts newest first in pages; a cursor it did not give is refused', async () => {
      for (let i = 0; i < 5; i++) await store.createAccount({ id: `acct_l${i}`, name: `l${i}`, created_at: 1000 + Math.floor(i / 2) });
      const seen: string[] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await store.listAccounts({ limit: 2, ...(cursor ? { cursor } : {}) });
        assert.ok(page.rows.length <= 2);
        seen.push(...page.rows.map((a) => a.id));
        if (!page.next_cursor) break;
        cursor = page.next_cursor;
      }
      // created_at 1002, 1001, 1001, 1000, 1000; ties newest id first
      assert.deepEqual(seen, ['acct_l4', 'acct_l3', 'acct_l2', 'acct_l1', 'acct_l0']);
      await assert.rejects(store.listAccounts({ limit: 2, cursor: 'nonsense' }), InvalidCursorError);
    });

    it('changes name, limits and suspension; suspension ends sessions and login links and shows in authenticate; resuming wakes dispatchers', async () => {
      const t = 5_000_000;
      await store.createAccount({ id: 'acct_s', name: 'before', created_at: t, limits: { max_keys: 3 } });
      assert.equal(await store.updateAccount('acct_nobody', { name: 'x' }, t), null);
      const renamed = await store.updateAccount('acct_s', { name: 'after', limits: { max_destinations: 7 } }, t);
      assert.equal(renamed?.name, 'after');
      assert.deepEqual(renamed?.limits, { max_destinations: 7 }, 'limits are replaced, not merged');
      assert.equal(renamed?.suspended_at, null);
      assert.deepEqual((await store.updateAccount('acct_s', { limits: null }, t))?.limits, null);

      await key('key_s1', 'acct_s', 'live', t);
      await loginToken('s1', 'acct_s', t);
      const open = await session('s1', 'acct_s', t);
      assert.ok(open);
      assert.ok(await store.getDashboardSession('sess_s1', t + 1));
      await loginToken('s2', 'acct_s', t); // an unused link

      const suspended = await store.updateAccount('acct_s', { suspended: true }, t + 10);
      assert.equal(suspended?.suspended_at, t + 10);
      assert.equal((await store.updateAccount('acct_s', { suspended: true }, t + 20))?.suspended_at, t + 10, 'a repeat keeps the first time');
      assert.deepEqual(await store.authenticate('hash_key_s1'), { key_id: 'key_s1', account_id: 'acct_s', mode: 'live', suspended: true });
      assert.equal(await store.getDashboardSession('sess_s1', t + 30), null, 'its session ended');
      assert.equal(await session('s2', 'acct_s', t + 30), null, 'its unused link opens nothing');
      await loginToken('s3', 'acct_s', t + 30);
      assert.equal(await session('s3', 'acct_s', t + 31), null, 'no link opens a session while it is suspended');

      let woken = 0;
      const off = store.onWork(() => woken++);
      const resumed = await store.updateAccount('acct_s', { suspended: false }, t + 40);
      off();
      assert.equal(resumed?.suspended_at, null);
      assert.ok(woken >= 1, 'resuming wakes dispatchers');
      assert.equal((await store.authenticate('hash_key_s1'))?.suspended, false);
      await loginToken('s4', 'acct_s', t + 50);
      assert.ok(await session('s4', 'acct_s', t + 51), 'signing in works again');
    });

    it('counts usage over both modes: destinations, unrevoked keys, domains, pending deliveries', async () => {
      const t = 6_000_000;
      await store.createAccount({ id: 'acct_u', name: 'u', created_at: t });
      await store.createAccount({ id: 'acct_u2', name: 'u2', created_at: t });
      assert.deepEqual(await store.accountUsage('acct_u'), { destinations: 0, keys: 0, domains: 0, pending_deliveries: 0 });
      await key('key_u1', 'acct_u', 'live', t);
      await key('key_u2', 'acct_u', 'test', t);
      await key('key_u3', 'acct_u', 'test', t);
      await store.revokeApiKey('key_u3', 'acct_u', t);
      await key('key_u4', 'acct_u2', 'live', t);
      await store.addDomain({ account_id: 'acct_u', domain: 'u.example.test', token: 't', status: 'pending', created_at: t, verified_at: null });
      for (const [id, mode] of [['dest_u1', 'live'], ['dest_u2', 'test']] as const) {
        await store.createDestination(
          { id, account_id: 'acct_u', mode, url: 'https://u.example.test/h', origin: 'https://u.example.test', name: null, description: null,
            enabled: true, disabled_reason: null, headers: {}, policy: { ...DEFAULT_POLICY }, created_at: t, updated_at: t },
          [],
          { secret: `whsec_${id}`, created_at: t, retired_at: null },
        );
      }
      const live = [delivery({ account_id: 'acct_u', mode: 'live' }), delivery({ account_id: 'acct_u', mode: 'live' })];
      const test = [delivery({ account_id: 'acct_u', mode: 'test' })];
      await store.enqueueDeliveries('acct_u', 'live', live);
      await store.enqueueDeliveries('acct_u', 'test', test);
      await store.enqueueDeliveries('acct_u2', 'live', [delivery({ account_id: 'acct_u2', mode: 'live' })]);
      // one of them final: it no longer counts
      const claimed = await store.claimDue({ now: 10_000_000, limit: 100, owner: 'u', leaseMarginMs: 1, excludeOrigins: [], secretsRetiredAfter: 0 });
      const first = claimed.find((c) => c.id === live[0]!.id)!;
      await store.recordAttempts([{ delivery_id: first.id, lease_token: first.lease_token, status: 'delivered', next_attempt_at: null,
        attempt: { attempt: 1, outcome: 'delivered', http_status: 200, latency_ms: 1, error: null, response_excerpt: null, created_at: t } }]);
      assert.deepEqual(await store.accountUsage('acct_u'), { destinations: 2, keys: 2, domains: 1, pending_deliveries: 2 });
    });

    it('erases an account in batches: usable by nobody from the first moment, then nothing of it left, other accounts untouched', async () => {
      const t = 7_000_000;
      await store.createAccount({ id: 'acct_e', name: 'e', created_at: t });
      await store.createAccount({ id: 'acct_keep', name: 'keep', created_at: t });
      for (const acct of ['acct_e', 'acct_keep']) {
        await key(`key_${acct}`, acct, 'live', t);
        await store.addDomain({ account_id: acct, domain: `${acct}.example.test`, token: 't', status: 'verified', created_at: t, verified_at: t });
        await store.ensureSigningSecret(acct, 'live', { secret: `whsec_${acct}`, created_at: t, retired_at: null });
        await store.createDestination(
          { id: `dest_${acct}`, account_id: acct, mode: 'live', url: 'https://e.example.test/h', origin: 'https://e.example.test', name: null,
            description: null, enabled: true, disabled_reason: null, headers: {}, policy: { ...DEFAULT_POLICY }, created_at: t, updated_at: t },
          [{ id: `sub_${acct}`, event_type: 'a.b' }],
          { secret: `whsec_d_${acct}`, created_at: t, retired_at: null },
        );
        const items = Array.from({ length: 7 }, () => delivery({ account_id: acct, mode: 'live', destination_id: `dest_${acct}`, event_id: `evt_${acct}` }));
        await store.enqueueDeliveries(acct, 'live', items, {
          event: { id: `evt_${acct}`, account_id: acct, mode: 'live', type: 'a.b', body: '{}', idempotency_key: null, metadata: null, created_at: t },
          idempotency: { key: `idem_${acct}`, request_hash: 'h', status_code: 202, response: '{}', created_at: t },
        });
        await loginToken(`e_${acct}`, acct, t);
        await session(`e_${acct}`, acct, t);
      }
      // an attempt recorded on one of the account's deliveries
      const claimed = await store.claimDue({ now: 20_000_000, limit: 100, owner: 'e', leaseMarginMs: 1, excludeOrigins: [], secretsRetiredAfter: 0 });
      const mine = claimed.filter((c) => c.account_id === 'acct_e');
      assert.equal(mine.length, 7);
      await store.recordAttempts([{ delivery_id: mine[0]!.id, lease_token: mine[0]!.lease_token, status: 'retrying', next_attempt_at: t + 1,
        attempt: { attempt: 1, outcome: 'failed', http_status: 503, latency_ms: 1, error: null, response_excerpt: null, created_at: t } }]);

      assert.equal(await store.beginAccountErasure('acct_nobody', t), null);
      const begun = await store.beginAccountErasure('acct_e', t + 5);
      assert.equal(begun?.erasing_since, t + 5);
      assert.ok(begun?.suspended_at != null, 'an account being erased is suspended too');
      assert.equal((await store.beginAccountErasure('acct_e', t + 9))?.erasing_since, t + 5, 'a repeat keeps the first time');
      assert.equal(await store.authenticate('hash_key_acct_e'), null, 'its keys are gone at once');
      assert.equal(await store.getDashboardSession('sess_e_acct_e', t + 6), null, 'its sessions too');
      assert.deepEqual(await store.listErasingAccounts(), ['acct_e']);

      // a result arriving for a delivery erased meanwhile records nothing
      const late = mine[1]!;
      let steps = 0;
      let deleted = 0;
      for (;;) {
        const step = await store.eraseAccountStep('acct_e', 3);
        steps++;
        deleted += step.deleted;
        if (steps === 2) {
          await store.recordAttempts([{ delivery_id: late.id, lease_token: late.lease_token, status: 'delivered', next_attempt_at: null,
            attempt: { attempt: 1, outcome: 'delivered', http_status: 200, latency_ms: 1, error: null, response_excerpt: null, created_at: t } }]);
        }
        if (step.done) break;
        assert.ok(step.deleted > 0 && step.deleted <= 3 + 3 * 2, `a step deletes a batch (${step.deleted})`);
        assert.ok(steps < 100, 'erasure ends');
      }
      assert.ok(steps >= 5, `in several steps (${steps})`);
      // 7 deliveries, 1 attempt, the event, its idempotency record, subscription, destination and its
      // secret, the account's signing secret, domain, at least one counters row, and the account
      assert.ok(deleted >= 7 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1, `every row counted (${deleted})`);
      assert.equal(await store.getAccount('acct_e'), null);
      assert.deepEqual(await store.listErasingAccounts(), []);
      assert.equal(await store.getDelivery('acct_e', 'live', late.id), null);
      assert.equal(await store.getEvent('acct_e', 'live', 'evt_acct_e'), null);
      assert.equal(await store.getDestination('acct_e', 'live', 'dest_acct_e'), null);
      assert.deepEqual(await store.getDestinationSecrets('dest_acct_e', 0), []);
      assert.deepEqual(await store.listDomains('acct_e'), []);
      assert.deepEqual(await store.getSigningSecrets('acct_e', 'live', 0), []);
      assert.equal(await store.findIdempotentResponse('acct_e', 'live', 'idem_acct_e', 0), null);
      assert.deepEqual(await store.listApiKeys('acct_e'), []);
      assert.deepEqual(await store.listSubscriptions('acct_e', 'live'), []);
      const overview = await store.dashboardOverview('acct_e', 'live', { since: 0, until: 30_000_000, bucket_ms: 30_000_000, buckets: 1 });
      assert.equal(overview.totals.accepted, 0, 'its counters are gone');
      assert.deepEqual(await store.accountUsage('acct_e'), { destinations: 0, keys: 0, domains: 0, pending_deliveries: 0 });

      // the other account kept everything
      assert.ok(await store.getAccount('acct_keep'));
      assert.ok(await store.authenticate('hash_key_acct_keep'));
      assert.ok(await store.getDashboardSession('sess_e_acct_keep', t + 6));
      assert.deepEqual(await store.accountUsage('acct_keep'), { destinations: 1, keys: 1, domains: 1, pending_deliveries: 7 });
      assert.ok(await store.getEvent('acct_keep', 'live', 'evt_acct_keep'));
      assert.ok(await store.findIdempotentResponse('acct_keep', 'live', 'idem_acct_keep', 0));
      assert.equal((await store.getDestinationSecrets('dest_acct_keep', 0)).length, 1);
    });
  });
}
