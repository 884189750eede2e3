/**
 * The dashboard's data on the embedded store: one-time login tokens, sessions, and the counts
 * behind its home page. Tokens and session ids are kept only as SHA-256 hashes.
 */
import { STATS_COUNTERS, minutesOf, summarizeStats } from '../delivery-stats.js';
import type { Row } from '../rows.js';
import type { SqliteConnection } from '../sqlite/connection.js';
import type {
  DashboardOverviewCounts,
  DashboardSession,
  DashboardStore,
  KeyMode,
  LoginToken,
  NewDashboardSession,
  OverviewWindow,
  SessionRenewal,
} from '../store.js';

export class SqliteDashboard implements DashboardStore {
  /** Prepared on first use (the tables exist only after migrate()). */
  private readonly statements;

  constructor(private readonly conn: SqliteConnection) {
    this.statements = conn.prepared((db) => ({
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
      // a suspended account's sessions are deleted when it is suspended; the join makes sure
      getSession: db.prepare(
        `SELECT s.id_hash, s.account_id, s.mode, s.csrf_token, s.created_at, s.expires_at
         FROM dashboard_sessions s JOIN accounts a ON a.id = s.account_id
         WHERE s.id_hash = ? AND s.expires_at > ? AND a.suspended_at IS NULL`,
      ),
      suspended: db.prepare('SELECT 1 FROM accounts WHERE id = ? AND suspended_at IS NOT NULL'),
      deleteSession: db.prepare('DELETE FROM dashboard_sessions WHERE id_hash = ?'),
      takeSession: db.prepare(
        'DELETE FROM dashboard_sessions WHERE id_hash = ? RETURNING id_hash, account_id, mode, csrf_token, created_at, expires_at',
      ),
      expireTokens: db.prepare('DELETE FROM dashboard_login_tokens WHERE expires_at <= ?'),
      expireSessions: db.prepare('DELETE FROM dashboard_sessions WHERE expires_at <= ?'),
      statsMinutes: db.prepare(
        `SELECT minute, ${STATS_COUNTERS.map((c) => `SUM(${c}) AS ${c}`).join(', ')} FROM delivery_stats
         WHERE account_id = ? AND mode = ? AND minute >= ? AND minute < ? GROUP BY minute`,
      ),
      deadLetters: db.prepare(
        `SELECT COUNT(*) AS n FROM deliveries WHERE account_id = ? AND mode = ? AND status = 'dead_letter'`,
      ),
    }));
  }

  private get s() {
    return this.statements();
  }

  /** Rows past their expiry go whenever new ones are made: the tables stay the size of what is live. */
  private expire(now: number): void {
    this.s.expireTokens.run(now);
    this.s.expireSessions.run(now);
  }

  async createLoginToken(token: LoginToken): Promise<void> {
    this.conn.db.transaction(() => {
      this.expire(token.created_at);
      this.s.insertToken.run(token);
    })();
  }

  async redeemLoginToken(tokenHash: string, session: NewDashboardSession, now: number): Promise<DashboardSession | null> {
    return this.conn.db.transaction(() => {
      const token = this.s.takeToken.get(tokenHash) as Row | undefined;
      if (!token || (token.expires_at as number) <= now) return null;
      if (this.s.suspended.get(token.account_id)) return null;
      this.expire(now);
      const opened: DashboardSession = { ...session, account_id: token.account_id as string, mode: token.mode as KeyMode };
      this.s.insertSession.run(opened);
      return opened;
    }).immediate();
  }

  async getDashboardSession(idHash: string, now: number): Promise<DashboardSession | null> {
    return (this.s.getSession.get(idHash, now) as DashboardSession | undefined) ?? null;
  }

  async deleteDashboardSession(idHash: string): Promise<void> {
    this.s.deleteSession.run(idHash);
  }

  async switchDashboardSessionMode(idHash: string, mode: KeyMode, next: SessionRenewal, now: number): Promise<DashboardSession | null> {
    return this.conn.db.transaction(() => {
      const old = this.s.takeSession.get(idHash) as DashboardSession | undefined;
      if (!old || old.expires_at <= now) return null;
      const moved: DashboardSession = { ...old, ...next, mode };
      this.s.insertSession.run(moved);
      return moved;
    }).immediate();
  }

  async dashboardOverview(accountId: string, mode: KeyMode, w: OverviewWindow): Promise<DashboardOverviewCounts> {
    const { first, end } = minutesOf(w.since, w.until);
    // one read transaction: both counts see the same moment
    return this.conn.db.transaction(() => {
      const rows = this.s.statsMinutes.all(accountId, mode, first, end) as never;
      const dead = this.s.deadLetters.get(accountId, mode) as { n: number };
      const summary = summarizeStats(rows, w.since, w.bucket_ms, w.buckets);
      return { totals: summary.totals, dead_letter: dead.n, attempt_buckets: summary.buckets };
    })();
  }
}
