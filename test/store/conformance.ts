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
      assert.deepEqual(await store.authenticate('h1'), { key_id: 'key_1', account_id: 'acct_a', mode: 'test' });
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
      const moved = await store.updateDestination('acct_a', 'live', 'dest_c1', { enabled: true, url: 'https://e.example.test/h2', origin: 'https://e.example.test' }, [{ id: 'sub_c4', event_type: 'invoice.paid' }], t + 3);
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

    it('expedites a recovered origin: its retrying deliveries become due now', async () => {
      const t = 99_000_000;
      const origin = 'https://expedite.example.test';
      const d = delivery({ account_id: 'acct_a', mode: 'live', origin, created_at: t });
      await store.enqueueDeliveries('acct_a', 'live', [d]);
      const [c] = await store.claimDue({ now: t + 1, limit: 1, owner: 'e', leaseMarginMs: 1, origin, excludeOrigins: [], secretsRetiredAfter: 0 });
      await store.recordAttempts([{ delivery_id: d.id, lease_token: c!.lease_token, status: 'retrying', next_attempt_at: t + 60_000,
        attempt: { attempt: 1, outcome: 'failed', http_status: 503, latency_ms: 1, error: null, response_excerpt: null, created_at: t } }]);
      assert.equal((await store.claimDue({ now: t + 10, limit: 1, owner: 'e', leaseMarginMs: 1, origin, excludeOrigins: [], secretsRetiredAfter: 0 })).length, 0);
      assert.equal(await store.expediteOrigin(origin, t + 10), 1);
      const due = await store.claimDue({ now: t + 10, limit: 1, owner: 'e', leaseMarginMs: 1, origin, excludeOrigins: [], secretsRetiredAfter: 0 });
      assert.deepEqual(due.map((x) => x.id), [d.id]);
      assert.equal(await store.expediteOrigin('https://other.example.test', t + 10), 0);
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
      assert.equal(await store.nextDueAt([]), t + 1510);
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
  });
  // flow control and parked origins: a section of its own (below), on stores of its own
  storeFlowControlConformance(name, open);
}

/**
 * Flow control (rate_limit / max_in_flight per destination) and parked origins. Each case gets a
 * store of its own: claimGated looks at every destination with limits, so cases must not see
 * each other's work. Times are the test's (`now` is passed in), so nothing here waits.
 */
export function storeFlowControlConformance(name: string, open: () => Promise<Store>): void {
  describe(`store conformance: ${name}: flow control and parked origins`, () => {
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
      s.claimGated({ now, limit: 1000, owner: 'g', leaseMarginMs: 500, secretsRetiredAfter: 0, room: () => 1000, ...extra });
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
      const noRoom = await gated(s, t, { room: () => 0 });
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

    it('claims no more than room(origin) and limit allow', async () => {
      const s = await fresh();
      const t = 130_000_000;
      const a = 'https://room-a.example.test';
      const b = 'https://room-b.example.test';
      await destination(s, 'dest_room_a', a, { max_in_flight: 10 }, t);
      await destination(s, 'dest_room_b', b, { rate_limit: { per_second: 1000 } }, t);
      await deliveriesOf(s, 'dest_room_a', a, 6, t);
      await deliveriesOf(s, 'dest_room_b', b, 6, t);
      const asked: string[] = [];
      const r = await gated(s, t + 10, { room: (o) => (asked.push(o), o === a ? 2 : 0) });
      assert.ok(asked.includes(a), 'room is asked for the gate’s origin');
      assert.equal(r.claimed.filter((c) => c.origin === a).length, 2, 'room 2 for origin a');
      assert.equal(r.claimed.filter((c) => c.origin === b).length, 0, 'room 0 for origin b');
      const limited = await gated(s, t + 10, { limit: 1 });
      assert.equal(limited.claimed.length, 1, 'limit in all');
      const rest = await gated(s, t + 10, { room: (o) => (o === a ? 1 : 3) });
      assert.equal(rest.claimed.filter((c) => c.origin === a).length, 1);
      assert.ok(rest.claimed.filter((c) => c.origin === b).length <= 3);
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

    it('parkOrigin moves due, unleased, ungated work out of the due index; claims by origin and expediteOrigin bring it back', async () => {
      const s = await fresh();
      const t = 160_000_000;
      const held = 'https://held.example.test';
      const other = 'https://other-origin.example.test';
      const heldItems = await deliveriesOf(s, null, held, 4, t);
      const [otherItem] = await deliveriesOf(s, null, other, 1, t);
      // one of the held origin's deliveries is in flight (a lease that outlives everything here)
      const [inFlight] = await claimAll(s, t + 5, { origin: held, limit: 1, leaseMarginMs: 1e9 });
      assert.equal(inFlight?.id, heldItems[0]!.id);
      // one waits on its own retry schedule (not due yet)
      const [retrier] = await deliveriesOf(s, null, held, 1, t + 1);
      const claimed = await claimAll(s, t + 6, { origin: held, limit: 10 });
      const rc = claimed.find((c) => c.id === retrier!.id);
      assert.ok(rc, 'the retrier was claimed');
      // the others go back untouched (due again at once)
      const others = claimed.filter((c) => c.id !== retrier!.id);
      await s.releaseClaims(others.map((c) => ({ delivery_id: c.id, lease_token: c.lease_token })), { quiet: true });
      await s.recordAttempts([{ delivery_id: rc.id, lease_token: rc.lease_token, status: 'retrying', next_attempt_at: t + 5000,
        attempt: { attempt: 1, outcome: 'failed', http_status: 503, latency_ms: 1, error: null, response_excerpt: null, created_at: t + 7 } }]);
      // and a gated delivery at the same origin
      await destination(s, 'dest_held', held, { max_in_flight: 5 }, t);
      const [gatedItem] = await deliveriesOf(s, 'dest_held', held, 1, t);

      const until = t + 30_000;
      const parked = await s.parkOrigin(held, until, t + 10);
      assert.equal(parked, 3, 'the three due, unleased, ungated deliveries of the origin are parked');

      const general = await claimAll(s, t + 20);
      assert.deepEqual(general.map((c) => c.id), [otherItem!.id], 'a general claim no longer sees the parked ones');
      assert.equal(await s.nextDueAt([other]), t + 5000, 'nextDueAt: the retry is the earliest; parked ones are not due now');
      const retryDue = await claimAll(s, t + 5000, { excludeOrigins: [other] });
      assert.deepEqual(retryDue.map((c) => c.id), [rc.id], 'parking left the not-yet-due retry on its own schedule');
      await s.releaseClaims([{ delivery_id: rc.id, lease_token: retryDue[0]!.lease_token }], { quiet: true });
      // released: due again at once (its next_attempt_at) — take it out of the picture
      const [rc2] = await claimAll(s, t + 5001, { excludeOrigins: [other] });
      assert.equal(rc2?.id, rc.id);
      await delivered(s, rc2!, t + 5002);
      assert.equal(await s.nextDueAt([other]), until, 'what is left of the origin comes back at `until`');

      // gated work of a parked origin is left alone by parking
      const g = await gated(s, t + 30);
      assert.deepEqual(g.claimed.map((c) => c.id), [gatedItem!.id]);

      // a claim by origin still takes parked work (oldest first)
      const byOrigin = await claimAll(s, t + 40, { origin: held, limit: 1 });
      assert.equal(byOrigin.length, 1);
      assert.ok(heldItems.slice(1).some((d) => d.id === byOrigin[0]!.id));

      // expediting brings the other two back into the due index, due now
      assert.equal(await s.expediteOrigin(held, t + 50), 2);
      const back = await claimAll(s, t + 50);
      assert.deepEqual(
        back.map((c) => c.id).sort(),
        heldItems.slice(1).filter((d) => d.id !== byOrigin[0]!.id).map((d) => d.id).sort(),
      );
      assert.equal(await s.parkOrigin(held, until, t + 60), 0, 'nothing due and unleased left to park');
    });

    it('parked work comes back into the due index by itself at `until`', async () => {
      const s = await fresh();
      const t = 170_000_000;
      const origin = 'https://park-until.example.test';
      const items = await deliveriesOf(s, null, origin, 2, t);
      assert.equal(await s.parkOrigin(origin, t + 1000, t + 10), 2);
      assert.deepEqual(await claimAll(s, t + 999), []);
      assert.equal(await s.nextDueAt([]), t + 1000);
      // a look bounded by `before` sees only what is due before it
      assert.equal(await s.nextDueAt([], t + 1000), null);
      assert.equal(await s.nextDueAt([], t + 1001), t + 1000);
      const back = await claimAll(s, t + 1000);
      assert.deepEqual(back.map((c) => c.id).sort(), items.map((d) => d.id).sort());
      assert.equal(await s.parkOrigin('https://nobody.example.test', t + 5000, t + 10), 0);
    });

    it('work that came back from parking and was attempted is no longer parked: its retry waits for its time, also for a claim by origin', async () => {
      const s = await fresh();
      const t = 180_000_000;
      const origin = 'https://unparked.example.test';
      // (Fails on SQLite as of writing: its general claim does not clear `parked`, so the retry stays
      // marked parked and a claim by origin takes it before its next_attempt_at.)
      const [d] = await deliveriesOf(s, null, origin, 1, t);
      assert.equal(await s.parkOrigin(origin, t + 1000, t + 10), 1);
      // back by itself at `until`: a general claim takes it and its attempt fails
      const [c] = await claimAll(s, t + 1000);
      assert.equal(c?.id, d!.id);
      await s.recordAttempts([{ delivery_id: c!.id, lease_token: c!.lease_token, status: 'retrying', next_attempt_at: t + 60_000,
        attempt: { attempt: 1, outcome: 'failed', http_status: 503, latency_ms: 1, error: null, response_excerpt: null, created_at: t + 1001 } }]);
      assert.deepEqual(await claimAll(s, t + 2000), [], 'the retry is not due before t + 60 s');
      assert.deepEqual(
        (await claimAll(s, t + 2000, { origin })).map((x) => x.id),
        [],
        'a claim by origin must not take a retry before its time either (it is not parked any more)',
      );
      assert.equal(await s.nextDueAt([]), t + 60_000);
      const due = await claimAll(s, t + 60_000, { origin });
      assert.deepEqual(due.map((x) => [x.id, x.attempt_count]), [[d!.id, 1]]);
    });
  });
}
