/**
 * The delivery queue on PostgreSQL, the hot path. Claims are
 * `UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED LIMIT n)`, so each delivery is leased by one
 * process at a time; new work wakes every process's dispatcher through LISTEN/NOTIFY
 * (postgres/wake-ups.ts). Hot-path writes are grouped (one transaction for all the sends of a
 * moment) and bulk (unnest arrays): the accept of new sends and events (commitInserts, with the
 * bulk inserts of postgres-inserts.ts) and the attempt results (commitResults); the claims are
 * plain here, by lane in postgres-lanes.ts, by gate in postgres-gates.ts. The dispatcher's
 * bookkeeping (claims, releases, results) runs on the relaxed pool (`work`, `workTx`:
 * postgres/connection.ts createPool).
 */
import { GroupCommit } from '../group-commit.js';
import { CLAIMED_COLUMNS, type InsertCall, bodyOnEvent, deliveryBodyColumn, signatureColumn, signingSecretsColumn, toClaimed } from '../rows.js';
import {
  type AttemptOutcomeRecord,
  BacklogFullError,
  type ClaimRequest,
  type ClaimedDelivery,
  type DeliveryQueueStore,
  type EnqueueOptions,
  type EventRecord,
  type GatedClaim,
  type GatedClaimRequest,
  type HeldExpiry,
  type IdempotentResponse,
  type KeyMode,
  type Lane,
  type LaneClaimRequest,
  type NewDelivery,
  type PendingLane,
  type ReleasedClaim,
} from '../store.js';
import { StatsTally } from '../delivery-stats.js';
import { encodeLanes, lanesOf } from '../work-lanes.js';
import { backlogAllows, effectiveLimits } from '../../core/limits.js';
import { NOW, type PgClock, SECRETS_AFTER, fromNow, nowParam, secretsCutoff } from '../postgres/clock.js';
import { DISABLED, GONE } from '../postgres/destination-state.js';
import { lockBacklogs } from '../postgres/limits.js';
import type { Querier, Transact } from '../postgres/querier.js';
import { addStats, statsUpsert } from '../postgres/stats.js';
import type { PgWakeUps } from '../postgres/wake-ups.js';
import { PgGates } from './postgres-gates.js';
import {
  CLAIMED,
  type KeyClaim,
  type Statement,
  claimKey,
  claimKeys,
  deleteKeys,
  deliveriesInsert,
  eventsInsert,
  joinWrites,
} from './postgres-inserts.js';
import { PgLanes } from './postgres-lanes.js';

/** PostgreSQL text cannot hold NUL: response excerpts and errors come from the outside world. */
const pgText = (s: string | null) => (s === null ? null : s.replace(/\u0000/g, '\uFFFD'));

const CLAIMED_D = `${CLAIMED_COLUMNS.split(',')
  .map((c) => `d.${c.trim()}`)
  .join(', ')}, ${deliveryBodyColumn('d')}, ${signingSecretsColumn('d', SECRETS_AFTER, 'id', 'string_agg')}, ${signatureColumn('d')}`;

export class PostgresDeliveryQueue implements DeliveryQueueStore {
  private claimCounter = 0;
  // Two accepting commits at once: one can wait on its round trips and WAL flush while the next
  // is under way. Each locks its accounts first, in id order (lockBacklogs), so two that share an
  // account take turns there and never deadlock; idempotency keys are claimed in key order too.
  private readonly inserts = new GroupCommit<InsertCall, IdempotentResponse | BacklogFullError | null>((calls) => this.commitInserts(calls), 2000, 2);
  private readonly results = new GroupCommit<AttemptOutcomeRecord>((items) => this.commitResults(items));
  /** The dispatcher's claims by lane, and the look for lanes with work (postgres-lanes.ts). */
  private readonly lanes: PgLanes;
  /** The claims of destinations with flow control (postgres-gates.ts). */
  private readonly gates: PgGates;

  /**
   * @param q a statement on the pool, `tx` a transaction on it
   * @param work a statement on the relaxed pool (the dispatcher's bookkeeping), `workTx` a transaction on it
   * @param clock whose clock shared times are compared on (postgres/clock.ts)
   * @param wakeUps this process's listeners and the other processes' NOTIFY channel
   */
  constructor(
    private readonly q: Querier,
    private readonly tx: Transact,
    private readonly work: Querier,
    private readonly workTx: Transact,
    private readonly clock: PgClock,
    private readonly wakeUps: PgWakeUps,
  ) {
    this.lanes = new PgLanes(work, workTx, CLAIMED_D, clock);
    this.gates = new PgGates(work, workTx, CLAIMED_D, clock);
  }

  /** Sends and events waiting for their commit, or in the one under way (the store's pressure). */
  get commitQueue(): number {
    return this.inserts.depth;
  }

  /** Waits for the commits of new work and of results under way (the store is closing). */
  async drain(): Promise<void> {
    await this.inserts.drain();
    await this.results.drain();
  }

  /** A `now` for a NOW() parameter (clock.ts). */
  private at(now: number): number | null {
    return nowParam(this.clock, now);
  }

  /** A new lease token of `owner`'s. */
  private newToken(owner: string): string {
    return `${owner}.${++this.claimCounter}`;
  }

  onWork(listener: (lanes: readonly Lane[] | null) => void): () => void {
    return this.wakeUps.onWork(listener);
  }

  // Accepting new work

  enqueueDeliveries(
    accountId: string,
    mode: KeyMode,
    deliveries: readonly NewDelivery[],
    options: EnqueueOptions = {},
  ): Promise<IdempotentResponse | null> {
    return this.inserts.add({ accountId, mode, deliveries, options }).then((result) => {
      if (result instanceof BacklogFullError) throw result; // nothing of this call was stored
      return result;
    });
  }

  async findIdempotentResponse(accountId: string, mode: KeyMode, key: string, notBefore: number) {
    // the key's window by the database's clock (clock.ts): as far back from its now as notBefore is from this process's
    const window = fromNow(this.clock, notBefore);
    const r = (
      await this.q(
        `SELECT key, request_hash, status_code, response, created_at FROM idempotency_keys
         WHERE account_id = $1 AND mode = $2 AND key = $3 AND created_at >= ${NOW('$5')} + $4::bigint`,
        [accountId, mode, key, window.offset, window.base],
      )
    )[0];
    return (r as unknown as IdempotentResponse) ?? null;
  }

  private async commitInserts(calls: InsertCall[]): Promise<Array<IdempotentResponse | BacklogFullError | null>> {
    let lanes: Lane[] = [];
    const results = await this.tx(async (q) => {
      const out: Array<IdempotentResponse | BacklogFullError | null> = [];
      const deliveries: NewDelivery[] = [];
      const events: Array<{ event: EventRecord; payload: Buffer | null | undefined }> = [];
      // the backlogs of the accounts whose calls are limited, locked first (see limits.ts)
      const limited = calls.filter((c) => c.options.limits && c.deliveries.length > 0).map((c) => c.accountId);
      const backlogs = limited.length > 0 ? await lockBacklogs(q, limited) : null;
      // Idempotency keys: recorded at the database's now and taken over once older than the call's
      // window by the database's clock (clock.ts): another process checks it, whatever this one's
      // clock says. The first call of each key claims it now, all in one statement (claimKeys); a
      // call whose key an earlier call of this commit had claims it at its turn (claimKey), once
      // that call's key is given back if it was refused, as if each call ran alone in order.
      const claimOf = (call: InsertCall, idem: IdempotentResponse): KeyClaim => ({
        accountId: call.accountId,
        mode: call.mode,
        record: idem,
        at: nowParam(this.clock, idem.created_at),
        window: call.options.idempotencyNotBefore === undefined ? null : fromNow(this.clock, call.options.idempotencyNotBefore),
      });
      const keyOf = (call: InsertCall, idem: IdempotentResponse) => JSON.stringify([call.accountId, call.mode, idem.key]);
      const seen = new Set<string>();
      const first = calls.map((call) => {
        const idem = call.options.idempotency;
        if (!idem || seen.has(keyOf(call, idem))) return false;
        seen.add(keyOf(call, idem));
        return true;
      });
      const claimed = await claimKeys(
        q,
        calls.flatMap((call, i) => (first[i] ? [claimOf(call, call.options.idempotency!)] : [])),
      );
      let nextClaim = 0;
      // keys of refused calls, given back in the commit's writes (or before a later call claims the same key)
      let givenBack: Array<{ accountId: string; mode: KeyMode; key: string }> = [];
      for (const [i, call] of calls.entries()) {
        const idem = call.options.idempotency;
        if (idem) {
          let claim: typeof CLAIMED | IdempotentResponse;
          if (first[i]) claim = claimed[nextClaim++]!;
          else {
            if (givenBack.length > 0) {
              const given = deleteKeys(givenBack);
              await q(given.text, given.params);
              givenBack = [];
            }
            claim = await claimKey(q, claimOf(call, idem));
          }
          if (claim !== CLAIMED) {
            out.push(claim);
            continue;
          }
        }
        const backlog = call.options.limits ? backlogs?.get(call.accountId) : undefined;
        if (backlog && call.options.limits) {
          const max = effectiveLimits(backlog.own, call.options.limits).max_pending_deliveries;
          if (!backlogAllows(backlog.pending, call.deliveries.length, max)) {
            if (idem) givenBack.push({ accountId: call.accountId, mode: call.mode, key: idem.key });
            out.push(new BacklogFullError(backlog.pending, call.deliveries.length, max));
            continue;
          }
          backlog.pending += call.deliveries.length; // the next calls of this commit count these
        }
        if (call.options.event) events.push({ event: call.options.event, payload: call.options.eventPayload });
        for (const d of call.deliveries) {
          deliveries.push(bodyOnEvent(d, call.options) ? { ...d, body: null } : d);
        }
        out.push(null);
      }
      // the writes in one statement: keys given back, events, deliveries, counters (stats.ts), NOTIFY
      const writes: Statement[] = [];
      if (givenBack.length > 0) writes.push(deleteKeys(givenBack));
      if (events.length > 0) writes.push(eventsInsert(events));
      if (deliveries.length > 0) {
        writes.push(deliveriesInsert(deliveries, this.clock));
        const stats = new StatsTally();
        for (const d of deliveries) stats.accepted(d.account_id, d.mode, d.created_at, 1);
        const counted = statsUpsert(stats);
        if (counted) writes.push(counted);
      }
      lanes = lanesOf(deliveries);
      // sent inside the transaction: delivered on commit only
      const notify = lanes.length > 0 ? { text: 'SELECT pg_notify($1, $2)', params: [this.wakeUps.channel, encodeLanes(lanes)] } : null;
      if (writes.length > 0 || notify) {
        const all = joinWrites(writes, notify);
        await q(all.text, all.params);
      }
      return out;
    });
    if (lanes.length > 0) this.wakeUps.emit(lanes);
    return results;
  }

  // Claims, releases and results: the dispatcher's side

  async claimDue(req: ClaimRequest): Promise<ClaimedDelivery[]> {
    if (req.limit <= 0) return [];
    const token = this.newToken(req.owner);
    // for tools and tests: the dispatcher claims by lane (postgres-lanes.ts)
    const awake = 'account_id NOT IN (SELECT id FROM accounts WHERE suspended_at IS NOT NULL)';
    const pick =
      req.origin !== undefined
        ? `SELECT seq FROM deliveries WHERE origin = $4 AND gate IS NULL AND run_at IS NOT NULL AND run_at <= ${NOW('$1')} AND ${awake}
           ORDER BY run_at LIMIT $5 FOR UPDATE SKIP LOCKED`
        : `SELECT seq FROM deliveries WHERE run_at <= ${NOW('$1')} AND gate IS NULL AND NOT (origin = ANY($4::text[])) AND ${awake}
           ORDER BY run_at LIMIT $5 FOR UPDATE SKIP LOCKED`;
    // due and leased by the database's clock (clock.ts): never this process's
    const rows = await this.work(
      `UPDATE deliveries d SET run_at = ${NOW('$1')} + d.timeout_ms + $2, lease_token = $3, parked = false
       FROM (${pick}) c WHERE d.seq = c.seq
       RETURNING ${CLAIMED_D}`,
      [this.at(req.now), req.leaseMarginMs, token, req.origin ?? [...req.excludeOrigins], req.limit, secretsCutoff(req)],
    );
    rows.sort((a, b) => (a.seq as number) - (b.seq as number));
    return rows.map(toClaimed);
  }

  claimLanes(req: LaneClaimRequest): Promise<ClaimedDelivery[]> {
    return this.lanes.claim(req, this.newToken(req.owner));
  }

  pendingLanes(): Promise<PendingLane[]> {
    return this.lanes.pending();
  }

  expireHeld(req: HeldExpiry): Promise<number> {
    return this.lanes.expire(req);
  }

  expediteLane(lane: Lane, now: number): Promise<number> {
    return this.lanes.expedite(lane, now);
  }

  async releaseClaims(claims: readonly ReleasedClaim[], options: { quiet?: boolean } = {}): Promise<void> {
    if (claims.length === 0) return;
    await this.work(
      `UPDATE deliveries d SET run_at = d.next_attempt_at, lease_token = NULL
       FROM unnest($1::text[], $2::text[]) AS c(id, token) WHERE d.id = c.id AND d.lease_token = c.token`,
      [claims.map((c) => c.delivery_id), claims.map((c) => c.lease_token)],
    );
    if (!options.quiet) await this.wakeUps.notify(null);
  }

  claimGated(req: GatedClaimRequest): Promise<GatedClaim> {
    return this.gates.claim(req, () => this.newToken(req.owner));
  }

  async recordAttempts(results: readonly AttemptOutcomeRecord[]): Promise<void> {
    await Promise.all(results.map((r) => this.results.add(r)));
  }

  private async commitResults(items: AttemptOutcomeRecord[]): Promise<void[]> {
    const now = Date.now();
    await this.workTx(async (q) => {
      const finished = await q(
        `UPDATE deliveries d SET attempt_count = r.attempt, last_status = r.http_status, updated_at = ${NOW('$8')},
           lease_token = NULL,
           status = CASE WHEN r.status = 'retrying' AND ${GONE} THEN 'dead_letter' ELSE r.status END,
           next_attempt_at = CASE WHEN ${GONE} THEN NULL ELSE ${NOW('$7')} + r.next_in END,
           run_at = CASE WHEN ${GONE} OR ${DISABLED} THEN NULL ELSE ${NOW('$7')} + r.next_in END
         FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::bigint[])
           AS r(id, token, status, attempt, http_status, next_in)
         WHERE d.id = r.id AND d.lease_token = r.token
         RETURNING d.seq, d.id, d.account_id, d.mode, d.status`,
        [
          items.map((i) => i.delivery_id),
          items.map((i) => i.lease_token),
          items.map((i) => i.status),
          items.map((i) => i.attempt.attempt),
          items.map((i) => i.attempt.http_status),
          // the retry's delay, not its time: it is due by the database's clock, like every claim
          // (on the caller's clock: its time, after 0)
          items.map((i) => (i.next_attempt_at === null ? null : this.clock === 'caller' ? i.next_attempt_at : Math.max(0, i.next_attempt_at - now))),
          this.clock === 'caller' ? 0 : null,
          this.at(now),
        ],
      );
      // results whose lease was lost belong to another claim now: not recorded
      const seqOf = new Map(finished.map((r) => [r.id as string, r.seq as number]));
      const kept = items.filter((i) => seqOf.has(i.delivery_id));
      if (kept.length === 0) return;
      await q(
        `INSERT INTO attempts (delivery_seq, attempt, outcome, http_status, latency_ms, error, response_excerpt, created_at)
         SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::int[], $5::int[], $6::text[], $7::text[], $8::bigint[])
         ON CONFLICT (delivery_seq, attempt) DO UPDATE SET outcome = excluded.outcome, http_status = excluded.http_status,
           latency_ms = excluded.latency_ms, error = excluded.error, response_excerpt = excluded.response_excerpt,
           created_at = excluded.created_at`,
        [
          kept.map((i) => seqOf.get(i.delivery_id)),
          kept.map((i) => i.attempt.attempt),
          kept.map((i) => i.attempt.outcome),
          kept.map((i) => i.attempt.http_status),
          kept.map((i) => i.attempt.latency_ms),
          kept.map((i) => pgText(i.attempt.error)),
          kept.map((i) => pgText(i.attempt.response_excerpt)),
          kept.map((i) => i.attempt.created_at),
        ],
      );
      // last: the counters' row lock is held only until the commit
      const byId = new Map(finished.map((r) => [r.id as string, r]));
      const stats = new StatsTally();
      for (const i of kept) {
        const f = byId.get(i.delivery_id)!;
        stats.attempt(f.account_id as string, f.mode as string, i.attempt.created_at, i.attempt.outcome, f.status as string);
      }
      await addStats(q, stats);
    });
    return items.map(() => undefined);
  }

  async countPendingDeliveries(): Promise<{ queued: number; retrying: number; dead_letter: number }> {
    const out = { queued: 0, retrying: 0, dead_letter: 0 };
    const rows = await this.q(
      `SELECT status, COUNT(*)::int AS n FROM deliveries WHERE status IN ('queued', 'retrying', 'dead_letter') GROUP BY status`,
    );
    for (const r of rows) out[r.status as keyof typeof out] = r.n as number;
    return out;
  }
}
