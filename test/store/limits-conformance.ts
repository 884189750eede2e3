/**
 * Store conformance, per-account limits and event bodies (issue 15): counts checked in the
 * transaction that would pass them, the pending-delivery backlog kept on every path that changes
 * it, and one event's body stored once for all its deliveries. Every backend passes it unchanged;
 * a store of its own, so the counts see only what these cases made.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_POLICY } from '../../src/core/policy.js';
import type { LimitDefaults } from '../../src/core/limits.js';
import { BacklogFullError, LimitExceededError, type NewDelivery, type Store } from '../../src/store/store.js';
import { newDelivery } from '../support/new-delivery.js';

const DEFAULTS: LimitDefaults = { max_destinations: 3, max_keys: 3, max_domains: 3, max_pending_deliveries: 5 };

let n = 0;
const id = (p: string) => `${p}_lim${++n}${Math.random().toString(36).slice(2, 7)}`;

export function storeLimitsConformance(name: string, open: () => Promise<Store>): void {
  describe(`store conformance: ${name}: limits and event bodies`, () => {
    let store: Store;
    before(async () => {
      store = await open();
      await store.migrate();
    });
    after(async () => store.close());

    const account = async (limits: Record<string, number> | null = null) => {
      const a = id('acct');
      await store.createAccount({ id: a, name: a, created_at: 1, limits });
      return a;
    };
    const key = (account_id: string, mode: 'live' | 'test', limits?: LimitDefaults) => {
      const k = id('key');
      return store.createApiKey({ id: k, account_id, mode, key_hash: `h_${k}`, prefix: 'hp_x', created_at: 1 }, limits).then(() => k);
    };
    const domain = (account_id: string, d: string, limits?: LimitDefaults) =>
      store.addDomain({ account_id, domain: d, token: 't', status: 'pending', created_at: 1, verified_at: null }, limits);
    const destination = (account_id: string, mode: 'live' | 'test', limits?: LimitDefaults) => {
      const d = id('dest');
      return store
        .createDestination(
          {
            id: d,
            account_id,
            mode,
            url: 'https://lim.example.test/hook',
            origin: 'https://lim.example.test',
            name: null,
            description: null,
            enabled: true,
            disabled_reason: null,
            headers: {},
            policy: DEFAULT_POLICY,
            created_at: 1,
            updated_at: 1,
          },
          [{ id: id('sub'), event_type: 'a.*' }],
          { secret: 'c2VjcmV0', created_at: 1, retired_at: null },
          limits,
        )
        .then((r) => r.id);
    };
    const deliveries = (account_id: string, count: number, over: Partial<NewDelivery> = {}) =>
      Array.from({ length: count }, () =>
        newDelivery(id('hr'), { account_id, origin: `https://${account_id}.example.test`, target: `https://${account_id}.example.test/h`, ...over }),
      );
    const refused = async <E extends Error>(p: Promise<unknown>, kind: abstract new (...args: never[]) => E): Promise<E> => {
      const err = await p.then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof kind, `refused with ${kind.name}, got ${String(err)}`);
      return err;
    };

    it('destinations: up to max_destinations, live and test together; one more is refused and not made', async () => {
      const a = await account();
      await destination(a, 'live', DEFAULTS);
      await destination(a, 'test', DEFAULTS);
      await destination(a, 'live', DEFAULTS);
      const err = await refused(destination(a, 'test', DEFAULTS), LimitExceededError);
      assert.deepEqual([err.limit, err.max], ['max_destinations', 3]);
      const held = [...(await store.listDestinations(a, 'live')), ...(await store.listDestinations(a, 'test'))];
      assert.equal(held.length, 3, 'nothing made');
      await destination(a, 'live'); // without limits (the operator's own tools): not checked
      // deleting one frees room (the count is of what exists)
      const b = await account();
      const first = await destination(b, 'live', DEFAULTS);
      await destination(b, 'live', DEFAULTS);
      await destination(b, 'live', DEFAULTS);
      await refused(destination(b, 'live', DEFAULTS), LimitExceededError);
      assert.equal(await store.deleteDestination(b, 'live', first, 'gone', 2), true);
      await destination(b, 'test', DEFAULTS);
    });

    it("an account's own limit beats the default, lower or higher", async () => {
      const low = await account({ max_destinations: 1, max_keys: 1, max_domains: 1 });
      await destination(low, 'live', DEFAULTS);
      assert.equal((await refused(destination(low, 'live', DEFAULTS), LimitExceededError)).max, 1);
      await key(low, 'live', DEFAULTS);
      assert.equal((await refused(key(low, 'test', DEFAULTS), LimitExceededError)).limit, 'max_keys');
      await domain(low, 'one.example.test', DEFAULTS);
      assert.equal((await refused(domain(low, 'two.example.test', DEFAULTS), LimitExceededError)).limit, 'max_domains');
      const high = await account({ max_destinations: 5 });
      for (let i = 0; i < 5; i++) await destination(high, i % 2 ? 'live' : 'test', DEFAULTS);
      assert.equal((await refused(destination(high, 'live', DEFAULTS), LimitExceededError)).max, 5);
    });

    it('keys: unrevoked ones count, both modes; revoking one frees room', async () => {
      const a = await account();
      const first = await key(a, 'live', DEFAULTS);
      await key(a, 'test', DEFAULTS);
      await key(a, 'test', DEFAULTS);
      await refused(key(a, 'live', DEFAULTS), LimitExceededError);
      assert.equal((await store.listApiKeys(a)).length, 3);
      assert.equal(await store.revokeApiKey(first, a, 5), true);
      await key(a, 'live', DEFAULTS);
    });

    it('domains: re-adding one the account has is not a new one, even at the limit', async () => {
      const a = await account();
      for (const d of ['a.example.test', 'b.example.test', 'c.example.test']) assert.equal((await domain(a, d, DEFAULTS)).created, true);
      const again = await domain(a, 'b.example.test', DEFAULTS);
      assert.deepEqual([again.created, again.record.domain], [false, 'b.example.test']);
      await refused(domain(a, 'd.example.test', DEFAULTS), LimitExceededError);
      assert.equal(await store.getDomain(a, 'd.example.test'), null);
      assert.equal(await store.deleteDomain(a, 'a.example.test'), true);
      assert.equal((await domain(a, 'd.example.test', DEFAULTS)).created, true);
    });

    it('concurrent creates at the limit: exactly the room left is made, never more', async () => {
      const a = await account({ max_destinations: 4, max_keys: 4, max_domains: 4 });
      await destination(a, 'live', DEFAULTS);
      await key(a, 'live', DEFAULTS);
      const settle = (ps: Array<Promise<unknown>>) => Promise.allSettled(ps);
      const dests = await settle(Array.from({ length: 8 }, (_, i) => destination(a, i % 2 ? 'live' : 'test', DEFAULTS)));
      const keys = await settle(Array.from({ length: 8 }, (_, i) => key(a, i % 2 ? 'live' : 'test', DEFAULTS)));
      const doms = await settle(Array.from({ length: 8 }, (_, i) => domain(a, `c${i}.example.test`, DEFAULTS)));
      for (const [what, results] of [['destinations', dests], ['keys', keys], ['domains', doms]] as const) {
        const made = results.filter((r) => r.status === 'fulfilled').length;
        const limited = results.filter((r) => r.status === 'rejected' && r.reason instanceof LimitExceededError).length;
        assert.deepEqual([made, limited], what === 'domains' ? [4, 4] : [3, 5], what);
      }
      const all = [...(await store.listDestinations(a, 'live')), ...(await store.listDestinations(a, 'test'))];
      assert.equal(all.length, 4);
      assert.equal((await store.listApiKeys(a)).length, 4);
      assert.equal((await store.listDomains(a)).length, 4);
    });

    it('pending deliveries: a call fits whole or is refused whole, storing nothing; other accounts are not affected', async () => {
      const a = await account();
      const b = await account();
      await store.enqueueDeliveries(a, 'live', deliveries(a, 3), { limits: DEFAULTS });
      const err = await refused(store.enqueueDeliveries(a, 'test', deliveries(a, 3), { limits: DEFAULTS }), BacklogFullError);
      assert.deepEqual([err.pending, err.adding, err.max], [3, 3, 5], 'both modes count');
      await store.enqueueDeliveries(a, 'test', deliveries(a, 2), { limits: DEFAULTS });
      const rejected = deliveries(a, 1);
      await refused(store.enqueueDeliveries(a, 'live', rejected, { limits: DEFAULTS }), BacklogFullError);
      assert.equal(await store.getDelivery(a, 'live', rejected[0]!.id), null, 'nothing stored');
      await store.enqueueDeliveries(a, 'live', [], { limits: DEFAULTS }); // adding nothing always fits
      await store.enqueueDeliveries(b, 'live', deliveries(b, 5), { limits: DEFAULTS });
      await store.enqueueDeliveries(a, 'live', deliveries(a, 1)); // without limits: not checked
    });

    it('pending deliveries: its own limit beats the default; grouped calls each get their answer; the refused one keeps no idempotency record', async () => {
      const a = await account({ max_pending_deliveries: 2 });
      const results = await Promise.allSettled([
        store.enqueueDeliveries(a, 'live', deliveries(a, 1), { limits: DEFAULTS }),
        store.enqueueDeliveries(a, 'live', deliveries(a, 1), { limits: DEFAULTS }),
        store.enqueueDeliveries(a, 'live', deliveries(a, 1), {
          limits: DEFAULTS,
          idempotency: { key: 'k-full', request_hash: 'h', status_code: 202, response: '{}', created_at: Date.now() },
        }),
      ]);
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected']);
      assert.ok((results[2] as PromiseRejectedResult).reason instanceof BacklogFullError);
      assert.equal(await store.findIdempotentResponse(a, 'live', 'k-full', 0), null, 'the key stays unused');
    });

    it('concurrent sends at the limit: exactly the room left is accepted', async () => {
      const a = await account({ max_pending_deliveries: 10 });
      await store.enqueueDeliveries(a, 'live', deliveries(a, 4), { limits: DEFAULTS });
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, async (_, i) => {
          if (i % 4 === 0) await new Promise((r) => setTimeout(r, i)); // spread over several commits
          return store.enqueueDeliveries(a, i % 2 ? 'live' : 'test', deliveries(a, 1), { limits: DEFAULTS });
        }),
      );
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 6);
      assert.ok(results.every((r) => r.status === 'fulfilled' || r.reason instanceof BacklogFullError));
    });

    it('a delivery that ends frees room; a replay takes it again; deleting a destination ends its pending ones', async () => {
      const a = await account({ max_pending_deliveries: 2 });
      const origin = `https://${a}.example.test`;
      const [one, two] = deliveries(a, 2);
      await store.enqueueDeliveries(a, 'live', [one!, two!], { limits: DEFAULTS });
      await refused(store.enqueueDeliveries(a, 'live', deliveries(a, 1), { limits: DEFAULTS }), BacklogFullError);
      const claims = await store.claimDue({ now: 5_000_000, limit: 10, owner: 'lim', leaseMarginMs: 1, origin, excludeOrigins: [], secretsRetiredAfter: 0 });
      const lease = new Map(claims.map((c) => [c.id, c.lease_token]));
      const end = (d: NewDelivery, status: 'delivered' | 'dead_letter' | 'retrying') =>
        store.recordAttempts([
          {
            delivery_id: d.id,
            lease_token: lease.get(d.id)!,
            status,
            next_attempt_at: status === 'retrying' ? 6_000_000 : null,
            attempt: { attempt: 1, outcome: status === 'delivered' ? 'delivered' : 'failed', http_status: 200, latency_ms: 1, error: null, response_excerpt: null, created_at: 5_000_001 },
          },
        ]);
      await end(two!, 'retrying'); // still pending
      await refused(store.enqueueDeliveries(a, 'live', deliveries(a, 1), { limits: DEFAULTS }), BacklogFullError);
      await end(one!, 'dead_letter');
      await store.enqueueDeliveries(a, 'live', deliveries(a, 1), { limits: DEFAULTS }); // the room it left
      await refused(store.enqueueDeliveries(a, 'live', deliveries(a, 1), { limits: DEFAULTS }), BacklogFullError);
      assert.equal(await store.requeueDelivery(a, 'live', one!.id, 5_000_010), 'requeued');
      const err = await refused(store.enqueueDeliveries(a, 'live', deliveries(a, 1), { limits: DEFAULTS }), BacklogFullError);
      assert.equal(err.pending, 3, 'the replayed one counts again (past the limit: a replay without limits is not checked)');

      const b = await account({ max_pending_deliveries: 2 });
      const dest = await destination(b, 'live');
      await store.enqueueDeliveries(b, 'live', deliveries(b, 2, { destination_id: dest }), { limits: DEFAULTS });
      await refused(store.enqueueDeliveries(b, 'live', deliveries(b, 1), { limits: DEFAULTS }), BacklogFullError);
      assert.equal(await store.deleteDestination(b, 'live', dest, 'deleted', 7), true);
      await store.enqueueDeliveries(b, 'live', deliveries(b, 2), { limits: DEFAULTS });
    });

    it('replays with limits: refused whole past max_pending_deliveries, re-queueing nothing; counted again once re-queued; never both of two racing', async () => {
      const T = 5_100_000;
      /** `count` dead letters of the account, made `created_at` (they were never pending through a limit). */
      const deadLetters = async (account_id: string, count: number, created_at = 1_000_000) => {
        const ds = deliveries(account_id, count, { created_at });
        await store.enqueueDeliveries(account_id, 'live', ds);
        const origin = `https://${account_id}.example.test`;
        const claims = await store.claimDue({ now: T, limit: 100, owner: 'rq', leaseMarginMs: 1, origin, excludeOrigins: [], secretsRetiredAfter: 0 });
        const mine = claims.filter((c) => ds.some((d) => d.id === c.id));
        assert.equal(mine.length, count);
        await store.recordAttempts(
          mine.map((c) => ({
            delivery_id: c.id,
            lease_token: c.lease_token,
            status: 'dead_letter' as const,
            next_attempt_at: null,
            attempt: { attempt: 1, outcome: 'failed' as const, http_status: 500, latency_ms: 1, error: null, response_excerpt: null, created_at: T },
          })),
        );
        return ds.map((d) => d.id);
      };
      const pending = async (account_id: string) => (await store.accountUsage(account_id)).pending_deliveries;
      const statusOf = async (account_id: string, deliveryId: string) => (await store.getDelivery(account_id, 'live', deliveryId))?.delivery.status;
      const dead = { statuses: ['dead_letter'] as const };

      const a = await account({ max_pending_deliveries: 4 });
      const ids = await deadLetters(a, 6);
      assert.equal(await pending(a), 0);
      await store.enqueueDeliveries(a, 'live', deliveries(a, 1), { limits: DEFAULTS });
      assert.equal(await pending(a), 1);

      // whole: every match counts, even when this batch of 2 alone would fit
      const whole = await refused(store.requeueDeliveries(a, 'live', dead, 2, T, { limits: DEFAULTS, whole: true }), BacklogFullError);
      assert.deepEqual([whole.pending, whole.adding, whole.max, whole.replayed], [1, 6, 4, 0]);
      // a batch: this batch counts; refused, it re-queues none of itself
      const batch = await refused(store.requeueDeliveries(a, 'live', dead, 4, T, { limits: DEFAULTS }), BacklogFullError);
      assert.deepEqual([batch.pending, batch.adding, batch.max], [1, 4, 4]);
      for (const d of ids) assert.equal(await statusOf(a, d), 'dead_letter', 'nothing was re-queued');
      assert.equal(await pending(a), 1);
      assert.equal(await store.requeueDeliveries(a, 'live', { ...dead, created_before: 1_000_001 }, 3, T, { limits: DEFAULTS, whole: false }), 3);
      assert.equal(await pending(a), 4, 'each re-queued delivery counts once');

      // one more, alone, is refused; what is not replayable answers as before, the backlog after
      const one = await refused(store.requeueDelivery(a, 'live', ids[5]!, T, DEFAULTS), BacklogFullError);
      assert.deepEqual([one.pending, one.adding, one.max, one.replayed], [4, 1, 4, 0]);
      assert.equal(await statusOf(a, ids[5]!), 'dead_letter');
      assert.equal(await store.requeueDelivery(a, 'live', 'hr_not_there', T, DEFAULTS), 'not_found');
      const replayedOne = (await Promise.all(ids.map(async (d) => [d, await statusOf(a, d)] as const))).find(([, st]) => st === 'retrying')![0];
      assert.equal(await store.requeueDelivery(a, 'live', replayedOne, T, DEFAULTS), 'conflict');
      // adding nothing always fits, even at the limit
      assert.equal(await store.requeueDeliveries(a, 'live', { statuses: ['rejected'] }, 10, T, { limits: DEFAULTS, whole: true }), 0);
      assert.equal(await pending(a), 4);
      // without limits (the operator's own tools): not checked
      assert.equal(await store.requeueDelivery(a, 'live', ids[5]!, T), 'requeued');
      assert.equal(await pending(a), 5);

      // racing single replays: exactly the room left is re-queued
      const b = await account({ max_pending_deliveries: 3 });
      const bIds = await deadLetters(b, 6);
      const singles = await Promise.allSettled(bIds.map((d) => store.requeueDelivery(b, 'live', d, T, DEFAULTS)));
      assert.equal(singles.filter((r) => r.status === 'fulfilled' && r.value === 'requeued').length, 3);
      assert.ok(singles.every((r) => r.status === 'fulfilled' || r.reason instanceof BacklogFullError));
      assert.equal(await pending(b), 3);

      // racing bulk replays that each fit alone but not together: one is admitted whole, the other refused whole
      const c = await account({ max_pending_deliveries: 3 });
      const early = await deadLetters(c, 2, 1_000_000);
      const late = await deadLetters(c, 2, 2_000_000);
      const bulks = await Promise.allSettled([
        store.requeueDeliveries(c, 'live', { ...dead, created_before: 1_500_000 }, 10, T, { limits: DEFAULTS, whole: true }),
        store.requeueDeliveries(c, 'live', { ...dead, created_after: 1_500_000 }, 10, T, { limits: DEFAULTS, whole: true }),
      ]);
      assert.deepEqual(bulks.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
      const lost = bulks.find((r): r is PromiseRejectedResult => r.status === 'rejected')!.reason as BacklogFullError;
      assert.ok(lost instanceof BacklogFullError);
      assert.deepEqual([lost.pending, lost.adding], [2, 2], 'it counted what the other one re-queued');
      const [refusedIds, admittedIds] = bulks[0]!.status === 'rejected' ? [early, late] : [late, early];
      for (const d of refusedIds) assert.equal(await statusOf(c, d), 'dead_letter');
      for (const d of admittedIds) assert.equal(await statusOf(c, d), 'retrying');
      assert.equal(await pending(c), 2);
    });

    it("an event's payload is stored once: its deliveries send it, show it, and keep it through retention", async () => {
      const a = await account();
      const t = 20_000_000;
      const text = JSON.stringify({ order: 'ord_1', note: 'é ✓ \u2028' });
      const payload = Buffer.from(text, 'utf8');
      const event = { id: id('evt'), account_id: a, mode: 'live' as const, type: 'a.b', body: text, idempotency_key: null, metadata: null, created_at: t };
      const origin = `https://${a}.example.test`;
      const ds = deliveries(a, 3, { event_id: event.id, event_type: 'a.b', body: payload, created_at: t, destination_id: null });
      await store.enqueueDeliveries(a, 'live', ds, { event, eventPayload: payload });
      assert.deepEqual(await store.getEvent(a, 'live', event.id), event, 'the event reads back as it was given');
      for (const d of ds) assert.deepEqual((await store.getDelivery(a, 'live', d.id))?.delivery.body, payload);
      const listed = await store.listDeliveries(a, 'live', { limit: 10, event_id: event.id });
      assert.ok(listed.rows.every((r) => r.body?.equals(payload)));
      const claims = await store.claimDue({ now: t + 10, limit: 10, owner: 'ev', leaseMarginMs: 1, origin, excludeOrigins: [], secretsRetiredAfter: 0 });
      assert.equal(claims.length, 3);
      for (const c of claims) assert.deepEqual(c.body, payload, 'each claim carries the exact bytes');

      // a string body: sent as its raw text, the event keeps its JSON text
      const raw = 'plain "text" body\n';
      const strEvent = { ...event, id: id('evt'), body: JSON.stringify(raw) };
      const strDs = deliveries(a, 2, { event_id: strEvent.id, event_type: 'a.b', body: Buffer.from(raw), created_at: t });
      await store.enqueueDeliveries(a, 'live', strDs, { event: strEvent, eventPayload: Buffer.from(raw) });
      assert.equal((await store.getEvent(a, 'live', strEvent.id))?.body, JSON.stringify(raw));
      assert.equal((await store.getDelivery(a, 'live', strDs[0]!.id))?.delivery.body?.toString('utf8'), raw);

      // an event without a body: its deliveries have none
      const bare = { ...event, id: id('evt'), body: null };
      const bareDs = deliveries(a, 1, { event_id: bare.id, event_type: 'a.b', body: null, created_at: t });
      await store.enqueueDeliveries(a, 'live', bareDs, { event: bare, eventPayload: null });
      assert.equal((await store.getEvent(a, 'live', bare.id))?.body, null);
      assert.equal((await store.getDelivery(a, 'live', bareDs[0]!.id))?.delivery.body, null);

      // retention: past its age, an event stays while a delivery of it is kept (they read their body from it)
      const kept = await store.prune({ deliveriesBefore: 0, eventsBefore: t + 1, idempotencyBefore: 0, limit: 100 });
      assert.equal(kept.events, 0);
      assert.ok(await store.getEvent(a, 'live', event.id));
      assert.deepEqual((await store.getDelivery(a, 'live', ds[0]!.id))?.delivery.body, payload);
    });
  });
}
