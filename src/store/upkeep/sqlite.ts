/** Retention (pruning what is past its age) and storage upkeep, on the embedded store. */
import { MINUTE_MS } from '../delivery-stats.js';
import type { SqliteConnection } from '../sqlite/connection.js';
import type { PruneRequest, PruneResult, UpkeepAction, UpkeepStore } from '../store.js';

export class SqliteUpkeep implements UpkeepStore {
  /** Prepared on first use (the tables exist only after migrate()). */
  private readonly statements;

  constructor(private readonly conn: SqliteConnection) {
    this.statements = conn.prepared((db) => ({
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
    }));
  }

  private get s() {
    return this.statements();
  }

  async prune(req: PruneRequest): Promise<PruneResult> {
    return this.conn.db.transaction(() => {
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

  /** SQLite keeps no dead row versions (freed pages are reused), so there is nothing to reclaim. */
  async upkeep(): Promise<UpkeepAction[]> {
    return [];
  }
}
