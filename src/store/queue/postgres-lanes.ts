/**
 * The dispatcher's lanes on PostgreSQL: claims by (account, origin) — every lane of a claim in one
 * statement, `FOR UPDATE SKIP LOCKED` within each lane's range of the index deliveries_lanes
 * (account_id, origin, run_at) — the look for lanes with work waiting (a loose index scan: one
 * probe per lane), a recovered lane's expedite and a held lane's expiry.
 */
import { StatsTally } from '../delivery-stats.js';
import { toClaimed } from '../rows.js';
import type { ClaimedDelivery, HeldExpiry, Lane, LaneClaimRequest, PendingLane } from '../store.js';
import { addStats } from '../postgres/stats.js';
import type { Querier, Transact } from '../postgres/querier.js';
import { NOW, type PgClock, nowParam, onProcessClock, secretsCutoff } from '../postgres/clock.js';

/** Accounts whose deliveries no claim takes (an index of only the suspended ones: empty while none is). */
const NOT_SUSPENDED = (account: string) =>
  `NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = ${account} AND a.suspended_at IS NOT NULL)`;

/** The gated deliveries of lane ($1 account, $2 origin): those of its account's destinations at its origin. */
const GATES_OF_LANE = 'gate IN (SELECT id FROM destinations WHERE account_id = $1 AND origin = $2)';

export class PgLanes {
  /**
   * @param returning the claim's RETURNING list for rows `d`, whose signing secrets are those
   *   retired after `$6`
   *
   * @param clock every time compared here is the database's (clock.ts): due times and leases are
   *   shared by every process, whose clocks may disagree
   */
  constructor(
    private readonly work: Querier,
    private readonly tx: Transact,
    private readonly returning: string,
    private readonly clock: PgClock,
  ) {}

  async claim(req: LaneClaimRequest, token: string): Promise<ClaimedDelivery[]> {
    const lanes = req.lanes.filter((l) => l.limit > 0);
    if (lanes.length === 0) return [];
    const rows = await this.work(
      `UPDATE deliveries d SET run_at = ${NOW('$1')} + d.timeout_ms + $2, lease_token = $3, parked = false
       FROM (
         SELECT c.seq FROM unnest($4::text[], $5::text[], $7::int[]) AS l(account_id, origin, k)
         CROSS JOIN LATERAL (
           SELECT x.seq FROM deliveries x
           WHERE x.account_id = l.account_id AND x.origin = l.origin AND x.run_at IS NOT NULL AND x.gate IS NULL
             AND x.run_at <= ${NOW('$1')}
           ORDER BY x.run_at LIMIT l.k FOR UPDATE SKIP LOCKED
         ) c
         WHERE ${NOT_SUSPENDED('l.account_id')}
       ) c WHERE d.seq = c.seq
       RETURNING ${this.returning}`,
      [
        nowParam(this.clock, req.now),
        req.leaseMarginMs,
        token,
        lanes.map((l) => l.account_id),
        lanes.map((l) => l.origin),
        secretsCutoff(req),
        lanes.map((l) => l.limit),
      ],
    );
    rows.sort((a, b) => (a.seq as number) - (b.seq as number));
    return rows.map(toClaimed);
  }

  async pending(): Promise<PendingLane[]> {
    const rows = await this.work(
      `WITH RECURSIVE lane AS (
         (SELECT account_id, origin, run_at FROM deliveries WHERE run_at IS NOT NULL AND gate IS NULL
          ORDER BY account_id, origin, run_at LIMIT 1)
         UNION ALL
         SELECT n.account_id, n.origin, n.run_at FROM lane l CROSS JOIN LATERAL (
           SELECT x.account_id, x.origin, x.run_at FROM deliveries x
           WHERE x.run_at IS NOT NULL AND x.gate IS NULL AND (x.account_id, x.origin) > (l.account_id, l.origin)
           ORDER BY x.account_id, x.origin, x.run_at LIMIT 1
         ) n
       )
       SELECT account_id, origin, run_at AS next_at, harepost_now_ms() AS db_now FROM lane WHERE ${NOT_SUSPENDED('lane.account_id')}`,
    );
    // due in so long by the database's clock: told to the dispatcher on this process's clock
    return rows.map((r) => ({
      account_id: r.account_id as string,
      origin: r.origin as string,
      next_at: onProcessClock(this.clock, Number(r.next_at), Number(r.db_now)),
    }));
  }

  async expedite(lane: Lane, now: number): Promise<number> {
    const at = NOW('$3');
    const rows = await this.work(
      `WITH plain AS (
         UPDATE deliveries SET run_at = ${at}, next_attempt_at = ${at}, parked = false
         WHERE account_id = $1 AND origin = $2 AND run_at IS NOT NULL AND gate IS NULL AND run_at > ${at}
           AND lease_token IS NULL AND status = 'retrying' RETURNING 1
       ), gated AS (
         UPDATE deliveries SET run_at = ${at}, next_attempt_at = ${at}, parked = false
         WHERE ${GATES_OF_LANE} AND run_at IS NOT NULL AND run_at > ${at} AND lease_token IS NULL AND status = 'retrying'
         RETURNING 1
       )
       SELECT (SELECT COUNT(*) FROM plain) + (SELECT COUNT(*) FROM gated) AS n`,
      [lane.account_id, lane.origin, nowParam(this.clock, now)],
    );
    return Number(rows[0]!.n);
  }

  /** run_at is a waiting delivery's scheduled time (or the end of a lease long run out). */
  async expire(req: HeldExpiry): Promise<number> {
    const end = (q: Querier, which: string, limit: number) =>
      q(
        `UPDATE deliveries d SET status = 'dead_letter', error = $5, run_at = NULL, next_attempt_at = NULL,
           lease_token = NULL, parked = false, updated_at = $4
         FROM (SELECT seq FROM deliveries WHERE ${which} AND run_at IS NOT NULL AND run_at <= ${NOW('$7')} - $3::bigint
               ORDER BY run_at LIMIT $6 FOR UPDATE SKIP LOCKED) picked
         WHERE d.seq = picked.seq
         RETURNING d.mode`,
        // due more than the hold bound ago by the database's clock (dueBefore is now − bound on ours)
        [req.account_id, req.origin, req.now - req.dueBefore, req.now, req.error, limit, nowParam(this.clock, req.now)],
      );
    return this.tx(async (q) => {
      const ended = await end(q, 'account_id = $1 AND origin = $2 AND gate IS NULL', req.limit);
      if (ended.length < req.limit) ended.push(...(await end(q, GATES_OF_LANE, req.limit - ended.length)));
      const stats = new StatsTally();
      for (const r of ended) stats.ended(req.account_id, r.mode as string, req.now, 'dead_letter', 1);
      await addStats(q, stats);
      return ended.length;
    });
  }
}
