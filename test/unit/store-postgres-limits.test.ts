/**
 * PostgreSQL, several processes on one database: max_pending_deliveries holds exactly across them
 * (each commit of new sends locks its accounts, then counts what every process has committed);
 * the per-session counters always add up to the deliveries really pending; and retention folds the
 * counters of ended sessions without losing a count.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { BacklogFullError, type Store } from '../../src/store/store.js';
import { newDelivery } from '../support/new-delivery.js';
import { dropSchema, freshSchemaUrl, postgresAvailable } from '../support/postgres.js';

const base = await postgresAvailable();
const DEFAULTS = { max_destinations: 10, max_keys: 10, max_domains: 10, max_pending_deliveries: 1_000 };

describe('postgres: limits across processes', { skip: base === null ? 'PostgreSQL unreachable' : false }, () => {
  let schema: string;
  let stores: Store[];
  let client: pg.Client;

  before(async () => {
    const fresh = freshSchemaUrl(base!);
    schema = fresh.schema;
    stores = [new PostgresStore(fresh.url), new PostgresStore(fresh.url)];
    for (const s of stores) await s.migrate();
    client = new pg.Client({ connectionString: base! });
    await client.connect();
    await client.query(`SET search_path TO ${schema}`);
  });

  after(async () => {
    for (const s of stores ?? []) await s.close();
    await client?.end();
    if (schema) await dropSchema(schema, base!);
  });

  let n = 0;
  const one = (account_id: string) => newDelivery(`hr_pgl${++n}_${account_id}`, { account_id, origin: 'https://pgl.example.test' });
  const counted = async (account_id: string) => {
    const { rows } = await client.query(
      `SELECT (SELECT COALESCE(SUM(pending), 0) FROM account_backlog WHERE account_id = $1)::int AS kept,
              (SELECT COUNT(*) FROM deliveries WHERE account_id = $1 AND status IN ('queued', 'retrying'))::int AS real`,
      [account_id],
    );
    return rows[0] as { kept: number; real: number };
  };

  it('two stores sending for one account at once accept exactly max_pending_deliveries', async () => {
    await stores[0]!.createAccount({ id: 'acct_race', name: 'race', created_at: 1, limits: { max_pending_deliveries: 25 } });
    const calls = Array.from({ length: 80 }, async (_, i) => {
      if (i % 8 === 0) await new Promise((r) => setTimeout(r, i % 16)); // many commits, interleaved
      return stores[i % 2]!.enqueueDeliveries('acct_race', i % 3 ? 'live' : 'test', [one('acct_race')], { limits: DEFAULTS });
    });
    const results = await Promise.allSettled(calls);
    const accepted = results.filter((r) => r.status === 'fulfilled').length;
    assert.ok(results.every((r) => r.status === 'fulfilled' || r.reason instanceof BacklogFullError));
    assert.equal(accepted, 25);
    assert.deepEqual(await counted('acct_race'), { kept: 25, real: 25 });
  });

  it('the counters add up to the real count through ends, replays, destination deletes and deletes', async () => {
    await stores[0]!.createAccount({ id: 'acct_sum', name: 'sum', created_at: 1 });
    const made = Array.from({ length: 6 }, () => one('acct_sum'));
    await stores[0]!.enqueueDeliveries('acct_sum', 'live', made.slice(0, 3));
    await stores[1]!.enqueueDeliveries('acct_sum', 'live', made.slice(3));
    assert.deepEqual(await counted('acct_sum'), { kept: 6, real: 6 });
    const claims = await stores[1]!.claimDue({ now: 9e12, limit: 100, owner: 'sum', leaseMarginMs: 1, origin: 'https://pgl.example.test', excludeOrigins: [], secretsRetiredAfter: 0 });
    const mine = claims.filter((c) => c.account_id === 'acct_sum');
    await stores[1]!.recordAttempts(
      mine.slice(0, 4).map((c, i) => ({
        delivery_id: c.id,
        lease_token: c.lease_token,
        status: i === 0 ? 'retrying' : i === 1 ? 'rejected' : 'delivered',
        next_attempt_at: i === 0 ? 9e12 : null,
        attempt: { attempt: 1, outcome: i === 1 ? 'rejected' : i === 0 ? 'failed' : 'delivered', http_status: 200, latency_ms: 1, error: null, response_excerpt: null, created_at: 1 },
      })),
    );
    await stores[0]!.releaseClaims(mine.slice(4).map((c) => ({ delivery_id: c.id, lease_token: c.lease_token })), { quiet: true });
    assert.deepEqual(await counted('acct_sum'), { kept: 3, real: 3 });
    const rejected = mine[1]!.id;
    assert.equal(await stores[0]!.requeueDelivery('acct_sum', 'live', rejected, 2), 'requeued');
    assert.deepEqual(await counted('acct_sum'), { kept: 4, real: 4 });
    await client.query(`DELETE FROM deliveries WHERE id = $1`, [made[5]!.id]);
    assert.deepEqual(await counted('acct_sum'), { kept: 3, real: 3 });
  });

  it("retention folds the counters of sessions that ended into one row, keeping the sum; a live session's row stays", async () => {
    await client.query(`INSERT INTO account_backlog (account_id, shard, pending) VALUES ('acct_fold', 2147483000, 7), ('acct_fold', 2147483001, -2)`);
    const [live] = (await client.query('SELECT pg_backend_pid() AS pid')).rows as Array<{ pid: number }>;
    await client.query(`INSERT INTO account_backlog (account_id, shard, pending) VALUES ('acct_fold', $1, 4)`, [live!.pid]);
    await stores[0]!.prune({ deliveriesBefore: 0, eventsBefore: 0, idempotencyBefore: 0, limit: 10 });
    const { rows } = await client.query(`SELECT shard, pending::int AS pending FROM account_backlog WHERE account_id = 'acct_fold' ORDER BY shard`);
    assert.deepEqual(rows, [
      { shard: 0, pending: 5 },
      { shard: live!.pid, pending: 4 },
    ]);
  });
});
