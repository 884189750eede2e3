/**
 * Per-account limits on PostgreSQL, exact with any number of processes: whatever adds to what an
 * account holds first locks its accounts row (FOR NO KEY UPDATE: inserts that reference the
 * account are not blocked), then counts in a statement of its own, which sees every commit made
 * before the lock was granted. Two creates at the limit take turns, and the second one counts the first.
 */
import { type CountLimit, type LimitDefaults, effectiveLimits, withinCount } from '../../core/limits.js';
import { type AccountLimits, LimitExceededError } from '../store.js';
import type { Querier } from './querier.js';

const COUNTS: Readonly<Record<CountLimit, string>> = {
  max_destinations: 'SELECT COUNT(*)::bigint AS n FROM destinations WHERE account_id = $1',
  max_keys: 'SELECT COUNT(*)::bigint AS n FROM api_keys WHERE account_id = $1 AND revoked_at IS NULL',
  max_domains: 'SELECT COUNT(*)::bigint AS n FROM domains WHERE account_id = $1',
};

const ownLimits = (stored: unknown): AccountLimits | null => (typeof stored === 'string' ? (JSON.parse(stored) as AccountLimits) : null);

/**
 * Throws LimitExceededError unless the account has room for one more; inside the transaction that
 * adds it, whose account row lock then holds off the account's other creates until it commits.
 */
export async function ensureRoom(q: Querier, accountId: string, limit: CountLimit, defaults: LimitDefaults): Promise<void> {
  const [account] = await q('SELECT limits FROM accounts WHERE id = $1 FOR NO KEY UPDATE', [accountId]);
  const max = effectiveLimits(ownLimits(account?.limits), defaults)[limit];
  const [counted] = await q(COUNTS[limit], [accountId]);
  if (!withinCount(Number(counted!.n), 1, max)) throw new LimitExceededError(limit, max);
}

/** An account's backlog as a commit of new sends sees it, once it holds the account's lock. */
export interface LockedBacklog {
  /** The account's own limits (over the operator's defaults). */
  own: AccountLimits | null;
  /** Deliveries not final yet, every process's commits included. */
  pending: number;
}

/**
 * Locks the accounts (in id order: commits never deadlock on them) and reads their limits and
 * pending deliveries, in one round trip (harepost_backlog_locked, migration 11). Held until the
 * commit ends, so no other commit adds to these accounts' backlogs in between.
 */
export async function lockBacklogs(q: Querier, accountIds: readonly string[]): Promise<Map<string, LockedBacklog>> {
  const rows = await q('SELECT account_id, limits, pending FROM harepost_backlog_locked($1::text[])', [[...new Set(accountIds)]]);
  return new Map(
    rows.map((r) => [r.account_id as string, { own: ownLimits(r.limits), pending: Number(r.pending) }]),
  );
}
