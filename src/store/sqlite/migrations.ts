/**
 * Versioned schema of the embedded store: the one migration list (store/migrations/list.ts)
 * rendered in SQLite's dialect. Append only: a released migration never changes.
 */
import type { Migration } from '../migration.js';
import { SQLITE } from '../migrations/dialects.js';
import { migrationsFor } from '../migrations/list.js';

export const SQLITE_MIGRATIONS: readonly Migration[] = migrationsFor(SQLITE);
