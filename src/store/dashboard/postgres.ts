/**
 * The dashboard's data on PostgreSQL — the same rules as dashboard/sqlite.ts: one-time login
 * tokens and sessions kept only as SHA-256 hashes, and the counts behind the home page.
 *
 * Expiries are kept and checked on the database's clock (clock.ts): a link made by the CLI on one
 * host and redeemed by an API process on another lasts its 15 minutes, whatever their clocks say.
 * An expiry the caller gives is kept as far from the database's now as it is from the caller's;
 * what is read back is the stored time (shown, and the cookie's Max-Age: a skew moves only those).
 */
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
import { STATS_COUNTERS, minutesOf, summarizeStats } from '../delivery-stats.js';
import type { Querier, Transact } from '../postgres/querier.js';
import { NOW, type PgClock, fromNow, nowParam } from '../postgres/clock.js';

const SESSION_COLUMNS = 'id_hash, account_id, mode, csrf_token, created_at, expires_at';

export class PostgresDashboard implements DashboardStore {
  constructor(
    private readonly q: Querier,
    private readonly tx: Transact,
    private readonly clock: PgClock = 'database',
  ) {}

  /** Rows past their expiry go whenever new ones are made: the tables stay the size of what is live. */
  private async expire(q: Querier, now: number): Promise<void> {
    await q(`DELETE FROM dashboard_login_tokens WHERE expires_at <= ${NOW('$1')}`, [nowParam(this.clock, now)]);
    await q(`DELETE FROM dashboard_sessions WHERE expires_at <= ${NOW('$1')}`, [nowParam(this.clock, now)]);
  }

  async createLoginToken(t: LoginToken): Promise<void> {
    const expires = fromNow(this.clock, t.expires_at);
    await this.tx(async (q) => {
      await this.expire(q, t.created_at);
      await q(
        `INSERT INTO dashboard_login_tokens (token_hash, account_id, mode, created_at, expires_at)
         VALUES ($1, $2, $3, $4, ${NOW('$6')} + $5::bigint)`,
        [t.token_hash, t.account_id, t.mode, t.created_at, expires.offset, expires.base],
      );
    });
  }

  async redeemLoginToken(tokenHash: string, s: NewDashboardSession, now: number): Promise<DashboardSession | null> {
    return this.tx(async (q) => {
      // used or not, a token is gone after its first presentation; the row lock makes two
      // concurrent redeems of one token get one session between them
      const [token] = await q(
        `DELETE FROM dashboard_login_tokens WHERE token_hash = $1 RETURNING account_id, mode, expires_at <= ${NOW('$2')} AS expired`,
        [tokenHash, nowParam(this.clock, now)],
      );
      if (!token || token.expired === true) return null;
      const [suspended] = await q('SELECT 1 FROM accounts WHERE id = $1 AND suspended_at IS NOT NULL', [token.account_id]);
      if (suspended) return null;
      await this.expire(q, now);
      const opened: DashboardSession = { ...s, account_id: token.account_id as string, mode: token.mode as KeyMode };
      const expires = fromNow(this.clock, s.expires_at);
      await q(
        `INSERT INTO dashboard_sessions (${SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, ${NOW('$7')} + $6::bigint)`,
        [opened.id_hash, opened.account_id, opened.mode, opened.csrf_token, opened.created_at, expires.offset, expires.base],
      );
      return opened;
    });
  }

  async getDashboardSession(idHash: string, now: number): Promise<DashboardSession | null> {
    // a suspended account's sessions are deleted when it is suspended; the join makes sure
    const [r] = await this.q(
      `SELECT ${SESSION_COLUMNS.split(', ').map((c) => `s.${c}`).join(', ')}
       FROM dashboard_sessions s JOIN accounts a ON a.id = s.account_id
       WHERE s.id_hash = $1 AND s.expires_at > ${NOW('$2')} AND a.suspended_at IS NULL`,
      [idHash, nowParam(this.clock, now)],
    );
    return (r as unknown as DashboardSession | undefined) ?? null;
  }

  async deleteDashboardSession(idHash: string): Promise<void> {
    await this.q('DELETE FROM dashboard_sessions WHERE id_hash = $1', [idHash]);
  }

  async switchDashboardSessionMode(idHash: string, mode: KeyMode, next: SessionRenewal, now: number): Promise<DashboardSession | null> {
    return this.tx(async (q) => {
      // the row lock makes two concurrent switches of one session get one new session between them
      const [old] = await q(
        `DELETE FROM dashboard_sessions WHERE id_hash = $1
         RETURNING ${SESSION_COLUMNS}, expires_at <= ${NOW('$2')} AS expired`,
        [idHash, nowParam(this.clock, now)],
      );
      if (!old || old.expired === true) return null;
      // the same end, kept as stored (the database's clock)
      const { expired: _, ...kept } = old;
      const moved: DashboardSession = { ...(kept as unknown as DashboardSession), ...next, mode };
      await q(
        `INSERT INTO dashboard_sessions (${SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)`,
        [moved.id_hash, moved.account_id, moved.mode, moved.csrf_token, moved.created_at, moved.expires_at],
      );
      return moved;
    });
  }

  async dashboardOverview(accountId: string, mode: KeyMode, w: OverviewWindow): Promise<DashboardOverviewCounts> {
    const { first, end } = minutesOf(w.since, w.until);
    const [rows, dead] = await Promise.all([
      this.q(
        `SELECT minute, ${STATS_COUNTERS.map((c) => `SUM(${c})::bigint AS ${c}`).join(', ')} FROM delivery_stats
         WHERE account_id = $1 AND mode = $2 AND minute >= $3 AND minute < $4 GROUP BY minute`,
        [accountId, mode, first, end],
      ),
      this.q(`SELECT COUNT(*) AS n FROM deliveries WHERE account_id = $1 AND mode = $2 AND status = 'dead_letter'`, [
        accountId,
        mode,
      ]),
    ]);
    const summary = summarizeStats(rows as never, w.since, w.bucket_ms, w.buckets);
    return { totals: summary.totals, dead_letter: Number(dead[0]!.n), attempt_buckets: summary.buckets };
  }
}
