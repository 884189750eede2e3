/** Replay (re-queueing final deliveries) and retention (pruning what is past its age), on SQLite. */
import { MINUTE_MS } from '../delivery-stats.js';
import { gateOf } from '../rows.js';
import type { Database as Db } from 'better-sqlite3';
import type { KeyMode, PruneRequest, PruneResult, RequeueFilter } from '../store.js';

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

  constructor(private readonly db: Db) {
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

  requeueDelivery(accountId: string, mode: KeyMode, id: string, now: number): 'requeued' | 'conflict' | 'not_found' {
    if (this.s.requeueOne.run({ id, account_id: accountId, mode, now }).changes > 0) return 'requeued';
    return this.s.exists.get(id, accountId, mode) ? 'conflict' : 'not_found';
  }

  requeueDeliveries(accountId: string, mode: KeyMode, f: RequeueFilter, limit: number, now: number): number {
    const where = ['account_id = :account_id', 'mode = :mode', 'status IN (SELECT value FROM json_each(:statuses))', `NOT ${GONE}`];
    const params: Record<string, unknown> = { account_id: accountId, mode, statuses: JSON.stringify(f.statuses), limit, now };
    if (f.destination_id !== undefined) (where.push('destination_id = :destination_id'), (params.destination_id = f.destination_id));
    if (f.event_id !== undefined) (where.push('event_id = :event_id'), (params.event_id = f.event_id));
    if (f.created_before !== undefined) (where.push('created_at < :created_before'), (params.created_before = f.created_before));
    if (f.created_after !== undefined) (where.push('created_at > :created_after'), (params.created_after = f.created_after));
    if (f.updated_before !== undefined) (where.push('updated_at < :updated_before'), (params.updated_before = f.updated_before));
    const sql = `UPDATE deliveries SET ${REQUEUE}
      WHERE seq IN (SELECT seq FROM deliveries WHERE ${where.join(' AND ')} ORDER BY seq LIMIT :limit)`;
    let stmt = this.bulk.get(sql);
    if (!stmt) this.bulk.set(sql, (stmt = this.db.prepare(sql)));
    return stmt.run(params).changes;
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
