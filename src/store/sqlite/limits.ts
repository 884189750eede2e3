/**
 * Per-account limits on the embedded store: what an account holds, counted inside the transaction
 * that would add to it. SQLite runs one write transaction at a time, so a count and the insert
 * after it can never interleave with another's: two creates at the limit never both pass.
 */
import type { Database as Db } from 'better-sqlite3';
import type { SqliteConnection } from './connection.js';
import { type CountLimit, type LimitDefaults, effectiveLimits, withinCount } from '../../core/limits.js';
import { type AccountLimits, LimitExceededError } from '../store.js';

const COUNTS: Readonly<Record<CountLimit, string>> = {
  max_destinations: 'SELECT COUNT(*) FROM destinations WHERE account_id = ?',
  max_keys: 'SELECT COUNT(*) FROM api_keys WHERE account_id = ? AND revoked_at IS NULL',
  max_domains: 'SELECT COUNT(*) FROM domains WHERE account_id = ?',
};

export class SqliteLimits {
  /** Prepared on first use (the tables exist only after migrate()). */
  private readonly statements;

  constructor(conn: SqliteConnection) {
    this.statements = conn.prepared((db) => ({
      ownLimits: db.prepare('SELECT limits FROM accounts WHERE id = ?').pluck(),
      pendingOf: db.prepare('SELECT pending FROM account_backlog WHERE account_id = ?').pluck(),
      counts: {
        max_destinations: db.prepare(COUNTS.max_destinations).pluck(),
        max_keys: db.prepare(COUNTS.max_keys).pluck(),
        max_domains: db.prepare(COUNTS.max_domains).pluck(),
      } satisfies Record<CountLimit, ReturnType<Db['prepare']>>,
    }));
  }

  /** The limits that apply to the account now: its own over the operator's defaults. */
  effective(accountId: string, defaults: LimitDefaults): LimitDefaults {
    const own = this.statements().ownLimits.get(accountId) as string | null | undefined;
    return effectiveLimits(own ? (JSON.parse(own) as AccountLimits) : null, defaults);
  }

  /** Throws LimitExceededError unless the account has room for one more. Call inside the transaction that adds it. */
  ensureRoom(accountId: string, limit: CountLimit, defaults: LimitDefaults): void {
    const max = this.effective(accountId, defaults)[limit];
    const count = this.statements().counts[limit].get(accountId) as number;
    if (!withinCount(count, 1, max)) throw new LimitExceededError(limit, max);
  }

  /** The account's deliveries not final yet (kept by the inserting commit and by triggers: one row read). */
  pending(accountId: string): number {
    return (this.statements().pendingOf.get(accountId) as number | undefined) ?? 0;
  }
}
