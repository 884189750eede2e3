/**
 * Migration 9 (signature scheme per destination) on a database that already holds destinations:
 * they were all signed with Standard Webhooks, and keep it — on both stores, through the store's
 * own migrate(). The database is brought to version 8 with the stores' own migration list.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { DEFAULT_POLICY } from '../../src/core/policy.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { dropSchema, freshSchemaUrl, postgresAvailable } from '../support/postgres.js';

const BEFORE = 8;
const OLD_ROW = {
  id: 'dest_old',
  account_id: 'acct_old',
  mode: 'live',
  url: 'https://old.example.test/h',
  origin: 'https://old.example.test',
  headers: '{}',
  policy: JSON.stringify(DEFAULT_POLICY),
  created_at: 1_000,
  updated_at: 1_000,
};
const INSERT = `INSERT INTO destinations (id, account_id, mode, url, origin, headers, policy, created_at, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`;

async function assertMigrated(store: Store): Promise<void> {
  await store.migrate();
  assert.equal(await store.ready(), true);
  const d = await store.getDestination('acct_old', 'live', 'dest_old');
  assert.ok(d, 'the destination made before the migration is still there');
  assert.equal(d.signature, 'standard-webhooks');
  // and the column takes a scheme from now on
  const patched = await store.updateDestination('acct_old', 'live', 'dest_old', { signature: 'github' }, null, 2_000);
  assert.equal(patched?.signature, 'github');
}

describe('migration 9: destinations made before it keep Standard Webhooks', () => {
  it('sqlite', async () => {
    assert.ok(SQLITE_MIGRATIONS.some((m) => m.version === BEFORE + 1 && /signature/.test(m.name)));
    const path = join(mkdtempSync(join(tmpdir(), 'harepost-mig-')), 'h.db');
    const db = new Database(path);
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    for (const m of SQLITE_MIGRATIONS.filter((x) => x.version <= BEFORE)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, 1);
    }
    db.prepare(INSERT.replace(/\$\d/g, '?')).run(...Object.values(OLD_ROW));
    db.close();
    const store = new SqliteStore(path);
    try {
      await assertMigrated(store);
    } finally {
      await store.close();
    }
  });

  it('postgres', async (t) => {
    const base = await postgresAvailable();
    if (base === null) return t.skip('PostgreSQL unreachable');
    assert.ok(POSTGRES_MIGRATIONS.some((m) => m.version === BEFORE + 1 && /signature/.test(m.name)));
    const { url, schema } = freshSchemaUrl(base);
    after(() => dropSchema(schema, base));
    const client = new pg.Client({ connectionString: base });
    await client.connect();
    try {
      await client.query(`CREATE SCHEMA ${schema}`);
      await client.query(`SET search_path TO ${schema}`);
      await client.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
      for (const m of POSTGRES_MIGRATIONS.filter((x) => x.version <= BEFORE)) {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, 1]);
      }
      await client.query(INSERT, Object.values(OLD_ROW));
    } finally {
      await client.end();
    }
    const store = new PostgresStore(url);
    try {
      await assertMigrated(store);
    } finally {
      await store.close();
    }
  });
});
