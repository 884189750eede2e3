/**
 * The dashboard's data on the embedded store: one-time login tokens, sessions, and the counts
 * behind its home page. Tokens and session ids are kept only as SHA-256 hashes.
 */
import type { Database as Db } from 'better-sqlite3';
import type { Row } from '../rows.js';
import type {
  DashboardOverviewCounts,
  DashboardSession,
  DeliveryStatus,
  KeyMode,
  LoginToken,
  NewDashboardSession,
  OverviewWindow,
} from '../store.js';

export class SqliteDashboard {
  private readonly s;

  constructor(private readonly db: Db) {
    this.s = {
      insertToken: db.prepare(
        `INSERT INTO dashboard_login_tokens (token_hash, account_id, mode, created_at, expires_at)
         VALUES (:token_hash, :account_id, :mode, :created_at, :expires_at)`,
      ),
      // used or not, a token is gone after its first presentation
      takeToken: db.prepare(
        'DELETE FROM dashboard_login_tokens WHERE token_hash = ? RETURNING account_id, mode, expires_at',
      ),
      insertSession: db.prepare(
        `INSERT INTO dashboard_sessions (id_hash, account_id, mode, csrf_token, created_at, expires_at)
         VALUES (:id_hash, :account_id, :mode, :csrf_token, :created_at, :expires_at)`,
      ),
      getSession: db.prepare(
        `SELECT id_hash, account_id, mode, csrf_token, created_at, expires_at FROM dashboard_sessions
         WHERE id_hash = ? AND expires_at > ?`,
      ),
      deleteSession: db.prepare('DELETE FROM dashboard_sessions WHERE id_hash = ?'),
      expireTokens: db.prepare('DELETE FROM dashboard_login_tokens WHERE expires_at <= ?'),
      expireSessions: db.prepare('DELETE FROM dashboard_sessions WHERE expires_at <= ?'),
      createdByStatus: db.prepare(
        `SELECT status, COUNT(*) AS n FROM deliveries
         WHERE account_id = :account_id AND mode = :mode AND created_at >= :since AND created_at < :until
         GROUP BY status`,
      ),
      deadLetters: db.prepare(
        `SELECT COUNT(*) AS n FROM deliveries WHERE account_id = ? AND mode = ? AND status = 'dead_letter'`,
      ),
      attemptBuckets: db.prepare(
        // CROSS JOIN keeps attempts the outer loop (SQLite's way to fix join order): the hour's attempts
        // by attempts_by_age, then each one's delivery by seq — never a walk over all of an account's
        // deliveries. Numbers may be bound as REAL: the cast makes the bucket a whole number.
        `SELECT CAST((a.created_at - :since) / :bucket_ms AS INTEGER) AS bucket, COUNT(*) AS attempts,
           SUM(CASE WHEN a.outcome = 'delivered' THEN 0 ELSE 1 END) AS failures
         FROM attempts a CROSS JOIN deliveries d ON d.seq = a.delivery_seq
         WHERE a.created_at >= :since AND a.created_at < :until AND d.account_id = :account_id AND d.mode = :mode
         GROUP BY bucket ORDER BY bucket`,
      ),
    };
  }

  /** Rows past their expiry go whenever new ones are made: the tables stay the size of what is live. */
  private expire(now: number): void {
    this.s.expireTokens.run(now);
    this.s.expireSessions.run(now);
  }

  createLoginToken(token: LoginToken): void {
    this.db.transaction(() => {
      this.expire(token.created_at);
      this.s.insertToken.run(token);
    })();
  }

  redeemLoginToken(tokenHash: string, session: NewDashboardSession, now: number): DashboardSession | null {
    return this.db.transaction(() => {
      const token = this.s.takeToken.get(tokenHash) as Row | undefined;
      if (!token || (token.expires_at as number) <= now) return null;
      this.expire(now);
      const opened: DashboardSession = { ...session, account_id: token.account_id as string, mode: token.mode as KeyMode };
      this.s.insertSession.run(opened);
      return opened;
    }).immediate();
  }

  getSession(idHash: string, now: number): DashboardSession | null {
    return (this.s.getSession.get(idHash, now) as DashboardSession | undefined) ?? null;
  }

  deleteSession(idHash: string): void {
    this.s.deleteSession.run(idHash);
  }

  overview(accountId: string, mode: KeyMode, w: OverviewWindow): DashboardOverviewCounts {
    const params = { account_id: accountId, mode, since: w.since, until: w.until, bucket_ms: w.bucket_ms };
    // one read transaction: the three counts see the same moment
    return this.db.transaction(() => {
      const created_by_status: DashboardOverviewCounts['created_by_status'] = {};
      for (const r of this.s.createdByStatus.all(params) as Array<{ status: DeliveryStatus; n: number }>) {
        created_by_status[r.status] = r.n;
      }
      const dead = this.s.deadLetters.get(accountId, mode) as { n: number };
      const attempt_buckets = this.s.attemptBuckets.all(params) as DashboardOverviewCounts['attempt_buckets'];
      return { created_by_status, dead_letter: dead.n, attempt_buckets };
    })();
  }
}
