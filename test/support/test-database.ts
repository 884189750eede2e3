/**
 * Which store the end-to-end tests run on: HAREPOST_TEST_STORE=sqlite (default) or postgres.
 * `npm test` runs the end-to-end suite once on each.
 */
import { join } from 'node:path';
import { dropSchema, freshSchemaUrl, postgresAvailable } from './postgres.js';

export type TestStoreKind = 'sqlite' | 'postgres';

export const TEST_STORE: TestStoreKind = process.env.HAREPOST_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';

export interface TestDatabase {
  url: string;
  /** Removes what the database left behind (a PostgreSQL schema; a file goes with its folder). */
  drop(): Promise<void>;
}

/** A database no other test uses: a file in `dir`, or a fresh PostgreSQL schema. */
export async function testDatabase(dir: string, kind: TestStoreKind = TEST_STORE): Promise<TestDatabase> {
  if (kind === 'sqlite') return { url: join(dir, 'harepost.db'), drop: async () => undefined };
  const base = await postgresAvailable();
  if (base === null) throw new Error('HAREPOST_TEST_STORE=postgres but PostgreSQL is unreachable');
  const { url, schema } = freshSchemaUrl(base);
  return { url, drop: () => dropSchema(schema, base) };
}
