/**
 * Storage upkeep on PostgreSQL: churn on the queue table leaves dead row versions; upkeep()
 * vacuums (and analyzes) the table once they pass the threshold, and leaves it alone below it.
 * This machine's server runs with autovacuum off, which is exactly the case upkeep exists for
 * (were autovacuum to get there first, VACUUM (SKIP_LOCKED) leaves the table to it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { NewDelivery, UpkeepAction } from '../../src/store/store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { dropSchema, freshSchemaUrl, postgresAvailable } from '../support/postgres.js';
import { newDelivery } from '../support/new-delivery.js';
import { waitFor } from '../support/wait.js';

const base = await postgresAvailable();

function delivery(i: number): NewDelivery {
  return newDelivery(`hr_upkeep${String(i).padStart(6, '0')}`, {
    account_id: 'acct_u',
    target: 'https://u.example.test/hook',
    origin: 'https://u.example.test',
    created_at: 1_000_000 + i,
  });
}

describe('storage upkeep: SQLite', () => {
  it('has nothing to reclaim', async () => {
    const store = new SqliteStore(':memory:');
    await store.migrate();
    assert.deepEqual(await store.upkeep(), []);
    await store.close();
  });
});

if (base !== null) {
  describe('storage upkeep: PostgreSQL', () => {
    const { url, schema } = freshSchemaUrl(base);
    const store = new PostgresStore(url);
    const client = new pg.Client({ connectionString: base });

    /** The statistics' view of the deliveries table, fresh (not this session's cached snapshot). */
    const stats = async () => {
      await client.query('SELECT pg_stat_clear_snapshot()');
      const r = await client.query(
        `SELECT n_dead_tup::int AS dead, (vacuum_count + autovacuum_count)::int AS vacuums,
           (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL) AS analyzed
         FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'deliveries'`,
        [schema],
      );
      return r.rows[0] as { dead: number; vacuums: number; analyzed: boolean };
    };

    before(async () => {
      await store.migrate();
      await store.createAccount({ id: 'acct_u', name: 'u', created_at: 1 });
      await store.enqueueDeliveries('acct_u', 'live', Array.from({ length: 300 }, (_, i) => delivery(i)));
      await client.connect();
      await client.query(`SET search_path = ${schema}`);
    });
    after(async () => {
      await client.end();
      await store.close();
      await dropSchema(schema);
    });

    it('vacuums and analyzes the queue table once its dead rows pass the threshold, then leaves it alone', async () => {
      // every update leaves one dead version per row: 300 × 10 = 3,000 (the threshold is 2,000)
      for (let i = 0; i < 10; i++) await client.query('UPDATE deliveries SET updated_at = updated_at + 1');
      await client.query('SELECT pg_stat_force_next_flush()');
      await waitFor(async () => (await stats()).dead >= 3000, { timeoutMs: 10_000, message: 'dead rows counted' });
      const before = await stats();

      let done: UpkeepAction[] = [];
      await waitFor(async () => {
        done = await store.upkeep();
        return done.some((a) => a.table === 'deliveries');
      }, { timeoutMs: 10_000, message: 'upkeep acts on deliveries' });
      const action = done.find((a) => a.table === 'deliveries')!;
      assert.equal(action.vacuumed, true);
      assert.equal(action.analyzed, true, 'never analyzed before: analyzed with it');
      assert.ok(action.dead >= 3000, `it saw the dead rows (${action.dead})`);

      await waitFor(async () => (await stats()).vacuums > before.vacuums, { timeoutMs: 10_000, message: 'vacuum counted' });
      const afterwards = await stats();
      assert.ok(afterwards.dead < 100, `dead rows reclaimed (${afterwards.dead} left)`);
      assert.equal(afterwards.analyzed, true);

      // below the thresholds: nothing to do for the queue table
      const again = await store.upkeep();
      assert.equal(again.find((a) => a.table === 'deliveries'), undefined, JSON.stringify(again));
    });

    it('leaves fewer dead rows than the threshold alone', async () => {
      await client.query('UPDATE deliveries SET updated_at = updated_at + 1'); // 300 dead
      await client.query('SELECT pg_stat_force_next_flush()');
      await waitFor(async () => (await stats()).dead >= 300, { timeoutMs: 10_000, message: 'dead rows counted' });
      const done = await store.upkeep();
      assert.equal(done.find((a) => a.table === 'deliveries'), undefined, JSON.stringify(done));
    });
  });
}
