/**
 * The PostgreSQL schema: the one migration list (store/migrations/list.ts) rendered in
 * PostgreSQL's dialect, the same versions as the embedded store's. Append only.
 */
import type { Migration } from '../migration.js';
import { POSTGRES } from '../migrations/dialects.js';
import { migrationsFor } from '../migrations/list.js';

export const POSTGRES_MIGRATIONS: readonly Migration[] = migrationsFor(POSTGRES);
