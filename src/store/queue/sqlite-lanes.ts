/**
 * The dispatcher's lanes on the embedded store: claims by (account, origin), the look for lanes
 * with work waiting, a recovered lane's expedite and a held lane's expiry. Every statement uses
 * the index deliveries_lanes (account_id, origin, run_at) — one range per lane — so a lane's
 * backlog, however deep, costs the other lanes nothing.
 */
import { StatsTally } from '../delivery-stats.js';
import type { ClaimedDelivery, HeldExpiry, Lane, LaneClaimRequest, PendingLane } from '../store.js';
import { statsWriter } from '../sqlite/stats.js';
import type { SqliteConnection } from '../sqlite/connection.js';

/** Leases the rows `seqs` names (inside the caller's transaction). */
export type LeaseSeqs = (seqs: readonly number[]) => ClaimedDelivery[];

/** Ungated deliveries waiting in the lanes index (its partial condition, for the planner). */
const IN_LANES = 'run_at IS NOT NULL AND gate IS NULL';

/** The first row (by run_at) of the lane after row `d`'s: the next origin of its account, else the next account. */
const NEXT_LANE = `COALESCE(
  (SELECT x.seq FROM deliveries x WHERE x.run_at IS NOT NULL AND x.gate IS NULL AND x.account_id = d.account_id
     AND x.origin > d.origin ORDER BY x.origin, x.run_at LIMIT 1),
  (SELECT x.seq FROM deliveries x WHERE x.run_at IS NOT NULL AND x.gate IS NULL AND x.account_id > d.account_id
     ORDER BY x.account_id, x.origin, x.run_at LIMIT 1))`;

/** The gated deliveries of a lane: those of its account's destinations at its origin. */
const GATES_OF_LANE = `gate IN (SELECT id FROM destinations WHERE account_id = :account AND origin = :origin)`;

export class SqliteLanes {
  /** Prepared on first use (the tables exist only after migrate()). */
  private readonly statements;

  constructor(conn: SqliteConnection) {
    this.statements = conn.prepared((db) => ({
      suspended: db.prepare('SELECT id FROM accounts WHERE suspended_at IS NOT NULL').pluck(),
      dueSeqs: db
        .prepare(
          `SELECT seq FROM deliveries WHERE account_id = :account AND origin = :origin AND ${IN_LANES}
             AND run_at <= :now ORDER BY run_at LIMIT :limit`,
        )
        .pluck(),
      // a loose index scan: one probe per lane, never a walk through a lane's rows
      pending: db.prepare(
        `WITH RECURSIVE lane(seq) AS (
           SELECT (SELECT seq FROM deliveries WHERE ${IN_LANES} ORDER BY account_id, origin, run_at LIMIT 1)
           UNION ALL
           SELECT ${NEXT_LANE} FROM lane JOIN deliveries d ON d.seq = lane.seq
         )
         SELECT d.account_id, d.origin, d.run_at AS next_at FROM lane JOIN deliveries d ON d.seq = lane.seq`,
      ),
      expedite: db.prepare(
        `UPDATE deliveries SET run_at = :now, next_attempt_at = :now, parked = 0
         WHERE account_id = :account AND origin = :origin AND ${IN_LANES} AND run_at > :now
           AND lease_token IS NULL AND +status = 'retrying'`,
      ),
      // (+status: found through the gates' index, never by walking every retrying delivery)
      expediteGated: db.prepare(
        `UPDATE deliveries SET run_at = :now, next_attempt_at = :now, parked = 0
         WHERE ${GATES_OF_LANE} AND run_at IS NOT NULL AND run_at > :now AND lease_token IS NULL AND +status = 'retrying'`,
      ),
      // run_at is a waiting delivery's scheduled time (or the end of a lease long run out)
      expire: db.prepare(
        `UPDATE deliveries SET status = 'dead_letter', error = :error, run_at = NULL, next_attempt_at = NULL,
           lease_token = NULL, parked = 0, updated_at = :now
         WHERE seq IN (SELECT seq FROM deliveries WHERE account_id = :account AND origin = :origin AND ${IN_LANES}
           AND run_at <= :due_before ORDER BY run_at LIMIT :limit)
         RETURNING mode`,
      ),
      expireGated: db.prepare(
        `UPDATE deliveries SET status = 'dead_letter', error = :error, run_at = NULL, next_attempt_at = NULL,
           lease_token = NULL, parked = 0, updated_at = :now
         WHERE seq IN (SELECT seq FROM deliveries WHERE ${GATES_OF_LANE} AND run_at IS NOT NULL
           AND run_at <= :due_before ORDER BY run_at LIMIT :limit)
         RETURNING mode`,
      ),
      addStats: statsWriter(db),
    }));
  }

  private get s() {
    return this.statements();
  }

  /** Accounts whose deliveries no claim takes (a partial index: nothing to read while none is). */
  suspendedAccounts(): Set<string> {
    return new Set(this.s.suspended.all() as string[]);
  }

  /** Leases each lane's due deliveries, up to its limit (call inside a transaction). */
  claim(req: LaneClaimRequest, lease: LeaseSeqs): ClaimedDelivery[] {
    const suspended = this.suspendedAccounts();
    const seqs: number[] = [];
    for (const lane of req.lanes) {
      if (lane.limit <= 0 || suspended.has(lane.account_id)) continue;
      seqs.push(...(this.s.dueSeqs.all({ account: lane.account_id, origin: lane.origin, now: req.now, limit: lane.limit }) as number[]));
    }
    return lease(seqs);
  }

  pending(): PendingLane[] {
    const suspended = this.suspendedAccounts();
    const rows = this.s.pending.all() as PendingLane[];
    return suspended.size === 0 ? rows : rows.filter((l) => !suspended.has(l.account_id));
  }

  expedite(lane: Lane, now: number): number {
    const p = { account: lane.account_id, origin: lane.origin, now };
    return this.s.expedite.run(p).changes + this.s.expediteGated.run(p).changes;
  }

  /** Ends past-the-bound held deliveries of a lane, ungated first (call inside a transaction). */
  expire(req: HeldExpiry): number {
    const p = { account: req.account_id, origin: req.origin, due_before: req.dueBefore, now: req.now, error: req.error, limit: req.limit };
    const ended = this.s.expire.all(p) as Array<{ mode: string }>;
    if (ended.length < req.limit) ended.push(...(this.s.expireGated.all({ ...p, limit: req.limit - ended.length }) as Array<{ mode: string }>));
    const stats = new StatsTally();
    for (const r of ended) stats.ended(req.account_id, r.mode, req.now, 'dead_letter', 1);
    this.s.addStats(stats);
    return ended.length;
  }
}
