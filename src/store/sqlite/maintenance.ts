/** Replay (re-queueing final deliveries) and retention (pruning what is past its age), on SQLite. */
import { MINUTE_MS } from '../delivery-stats.js';
import { gateOf } from '../rows.js';
import type { Database as Db } from 'better-sqlite3';
import { type LimitDefaults, backlogAllows } from '../../core/limits.js';
import { BacklogFullError, type KeyMode, type PruneRequest, type PruneResult, type RequeueCheck, type RequeueFilter } from '../store.js';
import type { SqliteLimits } from './limits.js';

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

export class SqliteMaintenance {
  private readonly s;
  private readonly bulk = new Map<string, ReturnType<Db['prepare']>>();

  constructor(
    private readonly db: Db,
    private readonly limits: SqliteLimits,
  ) {
    this.s = {
      requeueOne: db.prepare(
        `UPDATE deliveries SET ${REQUEUE}
         WHERE id = :id AND account_id = :account_id AND mode = :mode
           AND status IN ('dead_letter', 'rejected') AND NOT ${GONE}`,
      ),
      exists: db.prepare('SELECT 1 FROM deliveries WHERE id = ? AND account_id = ? AND mode = ?'),
      oldDeliveries: db.prepare(
        `SELECT seq FROM deliveries WHERE status IN ('delivered', 'rejected', 'dead_letter') AND updated_at < ? LIMIT ?`,
      ),
      deleteAttempts: db.prepare('DELETE FROM attempts WHERE delivery_seq IN (SELECT value FROM json_each(?))'),
      deleteDeliveries: db.prepare('DELETE FROM deliveries WHERE seq IN (SELECT value FROM json_each(?))'),
      deleteStats: db.prepare(
        'DELETE FROM delivery_stats WHERE rowid IN (SELECT rowid FROM delivery_stats WHERE minute < ? LIMIT ?)',
      ),
      // an event stays while any delivery of it is kept: its deliveries read their body from it
      deleteEvents: db.prepare(
        `DELETE FROM events WHERE seq IN (SELECT e.seq FROM events e WHERE e.created_at < ? AND NOT EXISTS (
           SELECT 1 FROM deliveries d WHERE d.account_id = e.account_id AND d.mode = e.mode AND d.event_id = e.id) LIMIT ?)`,
      ),
      deleteIdempotency: db.prepare(
        `DELETE FROM idempotency_keys WHERE (account_id, mode, key) IN (
           SELECT account_id, mode, key FROM idempotency_keys WHERE created_at < ? LIMIT ?)`,
      ),
    };
  }

  /**
   * With `limits`, in one write transaction (SQLite runs one at a time, so no send or other replay
   * can come between the count and the update): the account's pending deliveries are read before
   * the update, and a replay that would take them past max_pending_deliveries is rolled back.
   */
  requeueDelivery(accountId: string, mode: KeyMode, id: string, now: number, limits?: LimitDefaults): 'requeued' | 'conflict' | 'not_found' {
    return this.db
      .transaction(() => {
        const pending = limits ? this.limits.pending(accountId) : 0;
        if (this.s.requeueOne.run({ id, account_id: accountId, mode, now }).changes > 0) {
          if (limits) this.admit(accountId, pending, 1, limits); // throws: rolled back, nothing re-queued
          return 'requeued' as const;
        }
        return this.s.exists.get(id, accountId, mode) ? ('conflict' as const) : ('not_found' as const);
      })
      .immediate();
  }

  requeueDeliveries(accountId: string, mode: KeyMode, f: RequeueFilter, limit: number, now: number, check?: RequeueCheck): number {
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
    return this.db
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
    if (!stmt) this.bulk.set(sql, (stmt = this.db.prepare(sql)));
    return stmt;
  }

  /** Throws BacklogFullError (a replay's) unless `adding` more fit the account's `pending` ones. */
  private admit(accountId: string, pending: number, adding: number, defaults: LimitDefaults): void {
    const max = this.limits.effective(accountId, defaults).max_pending_deliveries;
    if (!backlogAllows(pending, adding, max)) throw BacklogFullError.ofReplay(pending, adding, max);
  }

  prune(req: PruneRequest): PruneResult {
    return this.db.transaction(() => {
      const seqs = JSON.stringify(
        (this.s.oldDeliveries.all(req.deliveriesBefore, req.limit) as Array<{ seq: number }>).map((r) => r.seq),
      );
      this.s.deleteAttempts.run(seqs);
      const deliveries = this.s.deleteDeliveries.run(seqs).changes;
      const events = this.s.deleteEvents.run(req.eventsBefore, req.limit).changes;
      this.s.deleteStats.run(Math.floor(req.deliveriesBefore / MINUTE_MS), req.limit);
      const idempotency_keys = this.s.deleteIdempotency.run(req.idempotencyBefore, req.limit).changes;
      return { deliveries, events, idempotency_keys };
    })();
  }
}
