/**
 * Picks the backend from HAREPOST_DATABASE_URL: `postgres://…` is PostgreSQL (optional
 * `?schema=name&pool=N`), anything else a file path for the embedded SQLite store.
 */
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

export class UnsupportedDatabaseError extends Error {}

export function openStore(databaseUrl: string): Store {
  if (/^postgres(ql)?:\/\//i.test(databaseUrl)) return new PostgresStore(databaseUrl);
  const path = databaseUrl.startsWith('file:') ? databaseUrl.slice('file:'.length) : databaseUrl;
  if (path === '') throw new UnsupportedDatabaseError('HAREPOST_DATABASE_URL is empty');
  return new SqliteStore(path);
}
