/**
 * The one migration list (src/store/migrations/list.ts) and its two renderings: the same versions
 * and names in both, in order; each applies to a fresh database of its own; and no released
 * migration's SQL ever changes (a fingerprint per dialect).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { Migration } from '../../src/store/migration.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { dropSchema, freshSchemaUrl, postgresAvailable } from '../support/postgres.js';

/**
 * A released migration must never change: databases out there have already run it, and will not
 * run it again. A schema change is a new migration at the end of the list, never an edit of one
 * here. These fingerprints cover every migration up to FINGERPRINTED_THROUGH; a new migration
 * leaves them alone (move FINGERPRINTED_THROUGH and the fingerprints on only once it is released).
 */
const FINGERPRINTED_THROUGH = 15;
const FINGERPRINTS = {
  sqlite: 'a9a93dc2ba82b1ffd349c0849ce7da3b22907958921dda8173c8a560e7abec95',
  postgres: '23f45cc4df10cbd4d7df9dfb6f44c2c660767913c4de42534e5f1a0432cef51d',
};

const normalised = (sql: string): string => sql.replace(/\s+/g, ' ').trim();

function fingerprint(list: readonly Migration[]): string {
  const hash = createHash('sha256');
  for (const m of list.filter((x) => x.version <= FINGERPRINTED_THROUGH)) hash.update(`${m.version}\n${normalised(m.sql)}\n`);
  return hash.digest('hex');
}

describe('migrations: one list, two dialects', () => {
  it('both renderings have the same versions and names, in strictly increasing order', () => {
    const steps = (list: readonly Migration[]) => list.map((m) => `${m.version}: ${m.name}`);
    assert.deepEqual(steps(POSTGRES_MIGRATIONS), steps(SQLITE_MIGRATIONS));
    const versions = SQLITE_MIGRATIONS.map((m) => m.version);
    assert.ok(versions.length >= FINGERPRINTED_THROUGH);
    versions.forEach((v, i) => assert.ok(i === 0 || v > versions[i - 1]!, `version ${v} follows ${versions[i - 1]}`));
  });

  it('released migrations are unchanged (fingerprints)', () => {
    assert.ok(SQLITE_MIGRATIONS.some((m) => m.version === FINGERPRINTED_THROUGH));
    const why = 'a released migration changed: revert the edit and add a new migration instead';
    assert.equal(fingerprint(SQLITE_MIGRATIONS), FINGERPRINTS.sqlite, `sqlite: ${why}`);
    assert.equal(fingerprint(POSTGRES_MIGRATIONS), FINGERPRINTS.postgres, `postgres: ${why}`);
  });

  it('the SQLite rendering applies to a fresh database', () => {
    const db = new Database(':memory:');
    try {
      for (const m of SQLITE_MIGRATIONS) {
        assert.doesNotThrow(() => db.exec(m.sql), `migration ${m.version} (${m.name})`);
      }
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all();
      assert.ok(tables.length > 0);
    } finally {
      db.close();
    }
  });

  it('the PostgreSQL rendering applies to a fresh schema, with the same tables as SQLite', async (t) => {
    const base = await postgresAvailable();
    if (base === null) return t.skip('PostgreSQL unreachable');
    const { schema } = freshSchemaUrl(base);
    const client = new pg.Client({ connectionString: base });
    await client.connect();
    try {
      await client.query(`CREATE SCHEMA ${schema}`);
      await client.query(`SET search_path TO ${schema}`);
      for (const m of POSTGRES_MIGRATIONS) {
        await assert.doesNotReject(client.query(m.sql), `migration ${m.version} (${m.name})`);
      }
      const pgTables = (
        await client.query('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name', [schema])
      ).rows.map((r: { table_name: string }) => r.table_name);

      const db = new Database(':memory:');
      for (const m of SQLITE_MIGRATIONS) db.exec(m.sql);
      const sqliteTables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map(
        (r) => r.name,
      );
      db.close();
      assert.deepEqual(pgTables, sqliteTables);
    } finally {
      await client.end();
      await dropSchema(schema, base);
    }
  });
});
