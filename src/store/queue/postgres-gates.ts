/**
 * The claims of destinations with flow control (a rate_limit or max_in_flight) on PostgreSQL:
 * one short transaction per gated destination with due work, on the dispatcher's bookkeeping
 * pool, its rate state and leases read on the database's clock (postgres/clock.ts).
 */
import { gateAllowance, tatAfter } from '../../core/flow-control.js';
import { LIMITED, toClaimed } from '../rows.js';
import type { GatedClaim, GatedClaimRequest } from '../store.js';
import { NOW, type PgClock, nowParam, onProcessClock, secretsCutoff } from '../postgres/clock.js';
import type { Querier, Transact } from '../postgres/querier.js';

export class PgGates {
  /**
   * @param work a statement on the bookkeeping pool, `tx` a transaction on it
   * @param returning the claim's RETURNING list for rows `d`, whose signing secrets are those
   *   retired after `$6`
   */
  constructor(
    private readonly work: Querier,
    private readonly tx: Transact,
    private readonly returning: string,
    private readonly clock: PgClock,
  ) {}

  /**
   * One short transaction per gated destination with due work: its row is locked (FOR UPDATE) so
   * processes claiming for it take turns, its leased deliveries are counted, and its rate state
   * moves on with what was claimed.
   */
  async claim(req: GatedClaimRequest, newToken: () => string): Promise<GatedClaim> {
    const out: GatedClaim = { claimed: [], nextAt: null, anyGates: false, inFlightBound: false };
    const gates = await this.work(
      `SELECT x.id, x.account_id, x.origin, EXISTS (SELECT 1 FROM deliveries WHERE gate = x.id AND run_at <= ${NOW('$1')})
         AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = x.account_id AND a.suspended_at IS NOT NULL) AS due
       FROM destinations x WHERE ${LIMITED}`,
      [nowParam(this.clock, req.now)],
    );
    out.anyGates = gates.length > 0;
    /** What this call already claimed per lane, origin and account: the caller's room is shared by its gates. */
    const used = new Map<string, number>();
    for (const gate of gates) {
      const left = req.limit - out.claimed.length;
      if (left <= 0) break;
      if (!gate.due) continue;
      const lane = { account_id: gate.account_id as string, origin: gate.origin as string };
      const keys = [`l ${lane.account_id} ${lane.origin}`, `o ${lane.origin}`, `a ${lane.account_id}`] as const;
      const r = req.room(lane);
      const room = Math.max(
        0,
        Math.min(left, r.lane - (used.get(keys[0]) ?? 0), r.origin - (used.get(keys[1]) ?? 0), r.account - (used.get(keys[2]) ?? 0)),
      );
      await this.tx(async (q) => {
        const [g] = await q(
          'SELECT rate_per_second, max_in_flight, rate_tat, (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS db_now FROM destinations WHERE id = $1 FOR UPDATE',
          [gate.id],
        );
        if (!g) return;
        // the gate's rate state, its leases and its claim all by the database's clock, read once the lock is ours
        const now = this.clock === 'caller' ? req.now : Number(g.db_now);
        const state = {
          perSecond: g.rate_per_second == null ? null : Number(g.rate_per_second),
          tat: Number(g.rate_tat),
          maxInFlight: g.max_in_flight == null ? null : Number(g.max_in_flight),
          leased: 0,
        };
        if (state.maxInFlight !== null) {
          const [c] = await q(
            'SELECT COUNT(*)::int AS n FROM deliveries WHERE gate = $1 AND run_at > $2 AND lease_token IS NOT NULL',
            [gate.id, now],
          );
          state.leased = c!.n as number;
        }
        const allow = gateAllowance(state, room, now);
        out.inFlightBound ||= allow.inFlightBound;
        // told to the dispatcher on its own clock: how long from now
        if (allow.rateNextAt !== null) out.nextAt = Math.min(out.nextAt ?? Infinity, onProcessClock(this.clock, allow.rateNextAt, now));
        if (allow.take <= 0) return;
        const rows = await q(
          `UPDATE deliveries d SET run_at = $1 + d.timeout_ms + $2, lease_token = $3, parked = false
           FROM (SELECT seq FROM deliveries WHERE gate = $4 AND run_at <= $1 ORDER BY run_at LIMIT $5 FOR UPDATE SKIP LOCKED) c
           WHERE d.seq = c.seq
           RETURNING ${this.returning}`,
          [now, req.leaseMarginMs, newToken(), gate.id, allow.take, secretsCutoff(req)],
        );
        rows.sort((a, b) => (a.seq as number) - (b.seq as number));
        out.claimed.push(...rows.map(toClaimed));
        for (const key of keys) used.set(key, (used.get(key) ?? 0) + rows.length);
        if (state.perSecond !== null && rows.length > 0) {
          await q('UPDATE destinations SET rate_tat = $2 WHERE id = $1', [gate.id, tatAfter(state.perSecond, state.tat, now, rows.length)]);
        }
      });
    }
    return out;
  }
}
