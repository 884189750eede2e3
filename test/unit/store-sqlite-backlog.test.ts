/**
 * The embedded store's pending-deliveries counter (account_backlog, what max_pending_deliveries
 * reads) after migration 15: new deliveries are counted by the commit that inserts them (one
 * statement per account and call), no longer by a per-row trigger that made every insert pay
 * for a statement journal. The counter must still equal the deliveries not final yet, per
 * account, through grouped commits of sends and events, results, a replay and a deletion.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { DeliveryPolicy } from '../../src/core/policy.js';
import type { LimitDefaults } from '../../src/core/limits.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { EventRecord, NewDelivery } from '../../src/store/store.js';

const POLICY: DeliveryPolicy = {
  max_attempts: 3,
  backoff: 'exponential',
  base_delay_ms: 1000,
  max_delay_ms: 60_000,
  jitter: 'none',
  timeout_ms: 5000,
  respect_retry_after: true,
} as DeliveryPolicy;
const LIMITS: LimitDefaults = { max_destinations: 10, max_keys: 10, max_domains: 10, max_pending_deliveries: 1000 };

describe('sqlite store: pending deliveries counted by their commit', () => {
  let dir: string;
  let store: SqliteStore;
  let reader: Database.Database;
  let n = 0;

  const delivery = (account_id: string, extra: Partial<NewDelivery> = {}): NewDelivery => ({
    id: `dlv_backlog_${n++}`,
    account_id,
    mode: 'live',
    target: 'https://a.example/hook',
    origin: 'https://a.example:443',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: Buffer.from('{"n":1}'),
    policy: POLICY,
    idempotency_key: null,
    metadata: null,
    sign: false,
    created_at: Date.now(),
    ...extra,
  });

  /** account → [counter, deliveries queued or retrying counted by hand] */
  const counts = () => {
    const kept = reader.prepare('SELECT account_id, pending FROM account_backlog').all() as Array<{ account_id: string; pending: number }>;
    const real = reader
      .prepare(`SELECT account_id, COUNT(*) AS n FROM deliveries WHERE status IN ('queued', 'retrying') GROUP BY account_id`)
      .all() as Array<{ account_id: string; n: number }>;
    const out = new Map<string, [number, number]>();
    for (const k of kept) out.set(k.account_id, [k.pending, 0]);
    for (const r of real) out.set(r.account_id, [out.get(r.account_id)?.[0] ?? 0, r.n]);
    return out;
  };
  const assertKept = (expected: Record<string, number>) => {
    const c = counts();
    for (const [account, want] of Object.entries(expected)) {
      assert.deepEqual(c.get(account) ?? [0, 0], [want, want], `${account}: [counter, not final]`);
    }
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'harepost-backlog-'));
    store = new SqliteStore(join(dir, 'h.db'));
    await store.migrate();
    for (const id of ['acct_a', 'acct_b']) await store.createAccount({ id, name: id, created_at: Date.now() });
    reader = new Database(join(dir, 'h.db'), { readonly: true });
  });
  after(async () => {
    reader.close();
    await store.close();
  });

  it('no per-row trigger counts inserts any more (finishing, replaying and deleting still do)', () => {
    const triggers = (reader.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'deliveries'").pluck().all() as string[]).sort();
    assert.deepEqual(triggers, ['deliveries_backlog_delete', 'deliveries_backlog_update']);
  });

  it('grouped commits of sends and events of two accounts: each account counts exactly its new deliveries', async () => {
    const calls: Array<Promise<unknown>> = [];
    for (let i = 0; i < 20; i++) calls.push(store.enqueueDeliveries('acct_a', 'live', [delivery('acct_a')], { limits: LIMITS }));
    for (let i = 0; i < 5; i++) {
      const event: EventRecord = {
        id: `evt_backlog_${i}`,
        account_id: 'acct_b',
        mode: 'live',
        type: 'order.created',
        body: '{"n":1}',
        idempotency_key: null,
        metadata: null,
        created_at: Date.now(),
      } as EventRecord;
      const fanOut = [0, 1, 2].map(() => delivery('acct_b', { event_id: event.id, event_type: event.type }));
      calls.push(store.enqueueDeliveries('acct_b', 'live', fanOut, { event, eventPayload: Buffer.from('{"n":1}'), limits: LIMITS }));
    }
    await Promise.all(calls); // issued together: the group commit takes several calls per transaction
    assertKept({ acct_a: 20, acct_b: 15 });
  });

  it('within one commit, a later call sees the earlier ones counted (max_pending_deliveries holds)', async () => {
    const tight: LimitDefaults = { ...LIMITS, max_pending_deliveries: 22 };
    const results = await Promise.allSettled(
      [0, 1, 2].map(() => store.enqueueDeliveries('acct_a', 'live', [delivery('acct_a')], { limits: tight })),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'rejected'],
      'two fit under 22 beside the 20 pending, the third is refused',
    );
    assertKept({ acct_a: 22, acct_b: 15 });
  });

  it('results that end deliveries, a retry and a replay keep the counter equal to the count', async () => {
    const now = Date.now() + 1000;
    const claimed = await store.claimLanes({
      now,
      owner: 'test',
      leaseMarginMs: 30_000,
      secretsRetiredAfter: 0,
      lanes: [{ account_id: 'acct_a', origin: 'https://a.example:443', limit: 5 }],
    });
    assert.equal(claimed.length, 5);
    const attempt = { attempt: 1, outcome: 'delivered', http_status: 200, latency_ms: 1, error: null, response_excerpt: '', created_at: now };
    await store.recordAttempts(
      claimed.map((d, i) => ({
        delivery_id: d.id,
        lease_token: d.lease_token,
        status: i === 0 ? ('retrying' as const) : i === 1 ? ('rejected' as const) : ('delivered' as const),
        next_attempt_at: i === 0 ? now + 60_000 : null,
        attempt: { ...attempt, outcome: i === 0 ? 'failed' : i === 1 ? 'rejected' : 'delivered' },
      })) as Parameters<SqliteStore['recordAttempts']>[0],
    );
    assertKept({ acct_a: 18, acct_b: 15 }); // 3 delivered, 1 rejected, 1 still retrying

    assert.equal(await store.requeueDelivery('acct_a', 'live', claimed[1]!.id, now), 'requeued');
    assertKept({ acct_a: 19, acct_b: 15 }); // the rejected one, replayed, counts again
  });
});
