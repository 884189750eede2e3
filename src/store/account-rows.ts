/**
 * What both backends share about accounts as the operator sees them: the cursor of the accounts
 * list, and which tables an erasure walks, in which order.
 */
import { InvalidCursorError } from './store.js';

/** Where an accounts page starts: below this (created_at, id), newest first. */
export interface AccountPosition {
  created_at: number;
  id: string;
}

export function encodeAccountCursor(p: AccountPosition): string {
  return Buffer.from(`a1:${p.created_at}:${p.id}`, 'utf8').toString('base64url');
}

export function decodeAccountCursor(cursor: string): AccountPosition {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^a1:(\d{1,16}):([A-Za-z0-9_-]{1,100})$/.exec(text);
  if (!m || Buffer.from(text, 'utf8').toString('base64url') !== cursor) throw new InvalidCursorError();
  return { created_at: Number(m[1]), id: m[2]! };
}

/**
 * The tables an account's rows are in, as an erasure deletes them: its deliveries first (with
 * their attempts), so nothing keeps being attempted or recorded, then what fans out to more
 * deliveries, then the rest. `attempts` and `destination_secrets` have no account_id: they go with
 * their delivery and destination. Any other table with an account_id column is swept in the last
 * step, before the accounts row itself.
 */
export const ERASED_TABLES = [
  'deliveries',
  'attempts',
  'events',
  'idempotency_keys',
  'subscriptions',
  'destinations',
  'destination_secrets',
  'signing_secrets',
  'domains',
  'delivery_stats',
  'api_keys',
  'dashboard_sessions',
  'dashboard_login_tokens',
  'accounts',
] as const;

/** A table name as found in the schema, safe to put in SQL (it is quoted too). */
export function quotedTable(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`unexpected table name ${JSON.stringify(name)}`);
  return `"${name}"`;
}
