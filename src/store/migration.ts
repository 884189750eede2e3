/**
 * One step of a store's versioned schema. Both dialects' lists (sqlite/migrations.ts and
 * postgres/migrations.ts) are made of these, with the same version numbers and names; a store
 * applies the ones its schema_migrations table does not list yet, in version order.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}
