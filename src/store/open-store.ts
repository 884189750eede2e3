/** Picks the backend from HAREPOST_DATABASE_URL: a file path is the embedded SQLite store. */
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

export class UnsupportedDatabaseError extends Error {}

export function openStore(databaseUrl: string): Store {
  if (/^postgres(ql)?:\/\//i.test(databaseUrl)) {
    throw new UnsupportedDatabaseError(
      'PostgreSQL is not supported by this build yet; use a file path for the embedded store',
    );
  }
  const path = databaseUrl.startsWith('file:') ? databaseUrl.slice('file:'.length) : databaseUrl;
  if (path === '') throw new UnsupportedDatabaseError('HAREPOST_DATABASE_URL is empty');
  return new SqliteStore(path);
}
