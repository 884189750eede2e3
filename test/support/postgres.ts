/**
 * PostgreSQL for tests: the server on 127.0.0.1:5432 (HAREPOST_TEST_PG_URL to override), a fresh
 * schema per use so runs never collide. Unreachable: a failure in CI (CI=true), a loud skip elsewhere.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_BASE_URL = process.env.HAREPOST_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let reachable: Promise<string | null> | null = null;

/** Null when PostgreSQL can be skipped (not CI and not reachable); throws in CI when unreachable. */
export function postgresAvailable(): Promise<string | null> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: PG_BASE_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return PG_BASE_URL;
    } catch (err) {
      const why = `PostgreSQL at ${PG_BASE_URL} is unreachable: ${(err as Error).message}`;
      if (process.env.CI === 'true') throw new Error(`${why} (CI=true: PostgreSQL tests must run)`);
      console.warn(`\n*** SKIPPING PostgreSQL tests: ${why} ***\n`);
      return null;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return reachable;
}

/** A database URL on a schema no one else uses; the schema is made on migrate. */
export function freshSchemaUrl(base = PG_BASE_URL): { url: string; schema: string } {
  const schema = `hp_t_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const u = new URL(base);
  u.searchParams.set('schema', schema);
  return { url: u.toString(), schema };
}

export async function dropSchema(schema: string, base = PG_BASE_URL): Promise<void> {
  const client = new pg.Client({ connectionString: base, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end().catch(() => undefined);
  }
}
