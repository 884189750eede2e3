/**
 * Deliveries after the fact on the embedded store: each one with its attempts, pages of them, and
 * replays (re-queueing final deliveries). A replay that re-queued anything wakes dispatchers
 * (`wake`, given by the store).
 */
import type { Database as Db, Statement } from 'better-sqlite3';
import { decodeDeliveryCursor, encodeDeliveryCursor } from '../cursor.js';
import { DELIVERY_COLUMNS, type Row, gateOf, toDelivery } from '../rows.js';
import { type LimitDefaults, backlogAllows } from '../../core/limits.js';
import type { SqliteConnection } from '../sqlite/connection.js';
import type { SqliteLimits } from '../sqlite/limits.js';
import {
  type AttemptRecord,
  BacklogFullError,
  type DeliveryPage,
  type DeliveryWithAttempts,
  type HistoryStore,
  type KeyMode,
  type ListDeliveriesQuery,
  type RequeueCheck,
  type RequeueFilter,
} from '../store.js';

const GONE = `(destination_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM destinations x WHERE x.id = deliveries.destination_id))`;
const DISABLED = `(destination_id IS NOT NULL AND EXISTS (
  SELECT 1 FROM destinations x WHERE x.id = deliveries.destination_id AND x.enabled = 0))`;
/**
 * A fresh budget, due now — or parked, when its destination is disabled. It has had attempts, so
 * it is `retrying`, never `queued` (which means no attempt has finished yet).
 */
const REQUEUE = `status = CASE WHEN attempt_count > 0 THEN 'retrying' ELSE 'queued' END, attempt_base = attempt_count, error = NULL, updated_at = :now,
  next_attempt_at = :now, run_at = CASE WHEN ${DISABLED} THEN NULL ELSE :now END, lease_token = NULL,
  parked = 0, gate = ${gateOf('deliveries.destination_id')}`;

export class SqliteHistory implements HistoryStore {
  /** Prepared on first use (the tables exist only after migrate()). */
  private readonly statements;
  /** One prepared statement per shape of list query (which filters are set). */
  private readonly listStatements = new Map<string, Statement>();
  /** One prepared statement per shape of bulk replay (which filters are set). */
  private readonly bulk = new Map<string, ReturnType<Db['prepare']>>();

  constructor(
    private readonly conn: SqliteConnection,
    private readonly limits: SqliteLimits,
    private readonly wake: () => void,
  ) {
    this.statements = conn.prepared((db) => ({
      getDelivery: db.prepare(
        `SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE id = ? AND account_id = ? AND mode = ?`,
      ),
      attemptsOf: db.prepare(
        `SELECT attempt, outcome, http_status, latency_ms, error, response_excerpt, created_at
         FROM attempts WHERE delivery_seq = ? ORDER BY attempt`,
      ),
      requeueOne: db.prepare(
        `UPDATE deliveries SET ${REQUEUE}
         WHERE id = :id AND account_id = :account_id AND mode = :mode
           AND status IN ('dead_letter', 'rejected') AND NOT ${GONE}`,
      ),
      exists: db.prepare('SELECT 1 FROM deliveries WHERE id = ? AND account_id = ? AND mode = ?'),
    }));
  }

  private get s() {
    return this.statements();
  }

  async getDelivery(accountId: string, mode: KeyMode, id: string): Promise<DeliveryWithAttempts | null> {
    const r = this.s.getDelivery.get(id, accountId, mode) as Row | undefined;
    if (!r) return null;
    const attempts = this.s.attemptsOf.all(r.seq) as AttemptRecord[];
    return { delivery: toDelivery(r), attempts };
  }

  async listDeliveries(accountId: string, mode: KeyMode, query: ListDeliveriesQuery): Promise<DeliveryPage> {
    const params: Record<string, unknown> = { account_id: accountId, mode, limit: query.limit + 1 };
    const where = ['account_id = :account_id', 'mode = :mode'];
    for (const f of ['status', 'destination_id', 'event_id', 'idempotency_key'] as const) {
      if (query[f] !== undefined) {
        where.push(`${f} = :${f}`);
        params[f] = query[f];
      }
    }
    const at = query.cursor === undefined ? null : decodeDeliveryCursor(query.cursor);
    if (at?.before_seq != null) {
      where.push('seq < :before');
      params.before = at.before_seq;
    }
    if (at?.created_before != null) {
      where.push('created_at < :created_before');
      params.created_before = at.created_before;
    }
    const sql = `SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT :limit`;
    let stmt = this.listStatements.get(sql);
    if (!stmt) this.listStatements.set(sql, (stmt = this.conn.db.prepare(sql)));
    const rows = stmt.all(params) as Row[];
    const more = rows.length > query.limit;
    const page = more ? rows.slice(0, query.limit) : rows;
    const last = page[page.length - 1];
    return {
      rows: page.map(toDelivery),
      next_cursor: more && last ? encodeDeliveryCursor(last.seq as number, at?.created_before ?? null) : null,
    };
  }

  /**
   * With `limits`, in one write transaction (SQLite runs one at a time, so no send or other replay
   * can come between the count and the update): the account's pending deliveries are read before
   * the update, and a replay that would take them past max_pending_deliveries is rolled back.
   */
  async requeueDelivery(accountId: string, mode: KeyMode, id: string, now: number, limits?: LimitDefaults): Promise<'requeued' | 'conflict' | 'not_found'> {
    const r = this.conn.db
      .transaction(() => {
        const pending = limits ? this.limits.pending(accountId) : 0;
        if (this.s.requeueOne.run({ id, account_id: accountId, mode, now }).changes > 0) {
          if (limits) this.admit(accountId, pending, 1, limits); // throws: rolled back, nothing re-queued
          return 'requeued' as const;
        }
        return this.s.exists.get(id, accountId, mode) ? ('conflict' as const) : ('not_found' as const);
      })
      .immediate();
    if (r === 'requeued') this.wake();
    return r;
  }

  async requeueDeliveries(accountId: string, mode: KeyMode, f: RequeueFilter, limit: number, now: number, check?: RequeueCheck): Promise<number> {
    const n = this.requeueMatching(accountId, mode, f, limit, now, check);
    if (n > 0) this.wake();
    return n;
  }

  private requeueMatching(accountId: string, mode: KeyMode, f: RequeueFilter, limit: number, now: number, check?: RequeueCheck): number {
    const where = ['account_id = :account_id', 'mode = :mode', 'status IN (SELECT value FROM json_each(:statuses))', `NOT ${GONE}`];
    const matching: Record<string, unknown> = { account_id: accountId, mode, statuses: JSON.stringify(f.statuses) };
    if (f.destination_id !== undefined) { where.push('destination_id = :destination_id'); matching.destination_id = f.destination_id; }
    if (f.event_id !== undefined) { where.push('event_id = :event_id'); matching.event_id = f.event_id; }
    if (f.created_before !== undefined) { where.push('created_at < :created_before'); matching.created_before = f.created_before; }
    if (f.created_after !== undefined) { where.push('created_at > :created_after'); matching.created_after = f.created_after; }
    if (f.updated_before !== undefined) { where.push('updated_at < :updated_before'); matching.updated_before = f.updated_before; }
    const params = { ...matching, limit, now };
    const update = this.prepared(`UPDATE deliveries SET ${REQUEUE}
      WHERE seq IN (SELECT seq FROM deliveries WHERE ${where.join(' AND ')} ORDER BY seq LIMIT :limit)`);
    if (!check) return update.run(params).changes;
    return this.conn.db
      .transaction(() => {
        const pending = this.limits.pending(accountId);
        if (check.whole) {
          // the whole replay, not just this batch: admitted all or nothing before anything moves
          const count = this.prepared(`SELECT COUNT(*) FROM deliveries WHERE ${where.join(' AND ')}`).pluck().get(matching) as number;
          this.admit(accountId, pending, count, check.limits);
        }
        const n = update.run(params).changes;
        this.admit(accountId, pending, n, check.limits); // throws: rolled back, nothing of this batch re-queued
        return n;
      })
      .immediate();
  }

  private prepared(sql: string): ReturnType<Db['prepare']> {
    let stmt = this.bulk.get(sql);
    if (!stmt) this.bulk.set(sql, (stmt = this.conn.db.prepare(sql)));
    return stmt;
  }

  /** Throws BacklogFullError (a replay's) unless `adding` more fit the account's `pending` ones. */
  private admit(accountId: string, pending: number, adding: number, defaults: LimitDefaults): void {
    const max = this.limits.effective(accountId, defaults).max_pending_deliveries;
    if (!backlogAllows(pending, adding, max)) throw BacklogFullError.ofReplay(pending, adding, max);
  }
}
