/**
 * One step of a store's versioned schema, rendered for one dialect. Both stores' lists
 * (sqlite/migrations.ts and postgres/migrations.ts) are made of these, rendered from the one list
 * in migrations/list.ts, so they have the same version numbers and names; a store applies the ones
 * its schema_migrations table does not list yet, in version order.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}
