/**
 * The delivery queue on the embedded store, the hot path: new sends and events accepted in group
 * commits, claims (plain, by lane, gated), releases, attempt results, and the signal that wakes
 * dispatchers (onWork; the other areas wake them through `wake`).
 *
 * Writes on the hot paths (new deliveries, attempt results) go through a GroupCommit so concurrent
 * callers share one transaction and one fsync. New deliveries are made durable by an fdatasync of
 * the WAL off the event loop (sqlite/wal-sync.ts, set up by the store) before their callers are
 * answered; everything else commits with `synchronous=FULL`.
 *
 * The grouped commits of new sends and of attempt results, the WAL flush that answers senders, the
 * claims (by lane, by gate, plain) and the `relaxed` commit mode share one connection, one set of
 * prepared statements (sqlite-statements.ts) and the lease counter, and their durability is
 * checked by reading them side by side: they stay together here. Lanes' own statements are in
 * sqlite-lanes.ts.
 */
import { EventEmitter } from 'node:events';
import { GroupCommit } from '../group-commit.js';
import {
  type AttemptOutcomeRecord,
  BacklogFullError,
  type ClaimRequest,
  type ClaimedDelivery,
  type DeliveryQueueStore,
  type EnqueueOptions,
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
import { gateAllowance, tatAfter } from '../../core/flow-control.js';
import { backlogAllows, type LimitDefaults } from '../../core/limits.js';
import { StatsTally } from '../delivery-stats.js';
import { type InsertCall, type Row, bodyOnEvent, deliveryParams, toClaimed } from '../rows.js';
import { lanesOf } from '../work-lanes.js';
import type { SqliteEvents } from '../events/sqlite.js';
import type { SqliteConnection } from '../sqlite/connection.js';
import type { SqliteLimits } from '../sqlite/limits.js';
import type { SharedSync } from '../sqlite/wal-sync.js';
import { SqliteLanes } from './sqlite-lanes.js';
import { prepareQueue } from './sqlite-statements.js';

/**
 * A batch of at least this many calls had a busy event loop behind it: its WAL is flushed on the
 * loop (≈0.3 ms) rather than waiting a whole busy turn for the thread pool's answer.
 */
const FLUSH_ON_LOOP_AT = 8;

/** How the store makes new sends durable (its WAL set-up), and the parts the queue reads. */
export interface SqliteQueueParts {
  /**
   * Flushes committed WAL frames to disk, shared by the commits waiting for it. Null where the
   * database is not in WAL mode (`:memory:`, or a file system without WAL support): there new
   * sends commit with `synchronous=FULL` like everything else.
   */
  durable: SharedSync | null;
  /** The same flush on the calling thread, for big batches. */
  flushNow: () => void;
  limits: SqliteLimits;
  /** Where an event sent with its deliveries is inserted, in the same commit. */
  events: SqliteEvents;
}

export class SqliteDeliveryQueue implements DeliveryQueueStore {
  /** Prepared on first use (the tables exist only after migrate()). */
  private readonly statements;
  /** The dispatcher's claims by lane (sqlite-lanes.ts). */
  private readonly lanes: SqliteLanes;
  private readonly work = new EventEmitter();
  private claimCounter = 0;
  /** Commits of new sends and events; each caller then waits for its batch's WAL flush. */
  private readonly inserts = new GroupCommit<InsertCall, { result: IdempotentResponse | BacklogFullError | null; durable: Promise<void> }>(
    (calls) => this.commitInserts(calls),
  );
  private readonly results = new GroupCommit<AttemptOutcomeRecord>((items) => this.commitResults(items));
  private readonly durable: SharedSync | null;
  private readonly flushNow: () => void;
  private readonly limits: SqliteLimits;
  private readonly events: SqliteEvents;
  private readonly syncFull;
  private readonly syncNormal;

  constructor(
    private readonly conn: SqliteConnection,
    parts: SqliteQueueParts,
  ) {
    this.statements = conn.prepared(prepareQueue);
    this.lanes = new SqliteLanes(conn);
    this.durable = parts.durable;
    this.flushNow = parts.flushNow;
    this.limits = parts.limits;
    this.events = parts.events;
    this.work.setMaxListeners(0);
    this.syncFull = conn.db.prepare('PRAGMA synchronous = FULL');
    this.syncNormal = conn.db.prepare('PRAGMA synchronous = NORMAL');
  }

  private get s() {
    return this.statements();
  }

  /** Sends and events waiting for their commit, or in the one under way (the store's pressure). */
  get depth(): number {
    return this.inserts.depth;
  }

  /** Wakes dispatchers: new work may be due now, for `lanes` when known (null: could be any). */
  wake(lanes: readonly Lane[] | null = null): void {
    this.work.emit('work', lanes);
  }

  /** Waits for the commits under way, and a flush of the WAL after the last one (the store is closing). */
  async drain(): Promise<void> {
    await this.inserts.drain();
    await this.durable?.sync().catch(() => undefined); // a flush after the last commit: callers answered
    await this.results.drain();
  }

  /**
   * Runs a commit without an fsync on the event loop. The dispatcher's bookkeeping (claims,
   * releases, attempt results) needs none: losing it to a power cut only means an attempt is made
   * again (at least once), and the next durable commit syncs it anyway. New sends and events wait
   * for `durable.sync()` after it. A process crash loses nothing either way (WAL).
   */
  private relaxed<T>(fn: () => T): T {
    this.syncNormal.run();
    try {
      return fn();
    } finally {
      this.syncFull.run();
    }
  }

  enqueueDeliveries(
    accountId: string,
    mode: KeyMode,
    deliveries: readonly NewDelivery[],
    options: EnqueueOptions = {},
  ): Promise<IdempotentResponse | null> {
    return this.inserts.add({ accountId, mode, deliveries, options }).then(async ({ result, durable }) => {
      if (result instanceof BacklogFullError) throw result; // nothing of it was stored: no flush to wait for
      await durable;
      return result;
    });
  }

  async findIdempotentResponse(
    accountId: string,
    mode: KeyMode,
    key: string,
    notBefore: number,
  ): Promise<IdempotentResponse | null> {
    return (this.s.getIdempotencyKey.get(accountId, mode, key, notBefore) as IdempotentResponse | undefined) ?? null;
  }

  /** Adds a commit's tallies to delivery_stats (inside that commit). */
  private addStats(stats: StatsTally): void {
    this.s.addStats(stats);
  }

  /**
   * Commits a batch of sends and events without an fsync of SQLite's own, then flushes the WAL:
   * a small batch starts (or joins) a flush off the event loop, and the next batch commits
   * meanwhile and shares the next one; a big batch (FLUSH_ON_LOOP_AT) is flushed at once on the
   * loop. Either way each caller (and its 202) is answered only once its flush is done. The
   * dispatcher may start on the new work at once (at least once either way).
   */
  private commitInserts(calls: InsertCall[]): Array<{ result: IdempotentResponse | BacklogFullError | null; durable: Promise<void> }> {
    const insert = this.s.insertDelivery;
    const stats = new StatsTally();
    const commit = this.conn.db.transaction(() => {
      const out = calls.map((call) => {
        const idem = call.options.idempotency;
        if (idem) {
          const claimed = this.s.claimIdempotencyKey.run({
            account_id: call.accountId,
            mode: call.mode,
            not_before: call.options.idempotencyNotBefore ?? 0,
            ...idem,
          });
          if (claimed.changes === 0) {
            return this.s.getIdempotencyKey.get(call.accountId, call.mode, idem.key, 0) as IdempotentResponse;
          }
        }
        const full = call.options.limits ? this.backlogFull(call.accountId, call.deliveries.length, call.options.limits) : null;
        if (full) {
          if (idem) this.s.deleteIdempotencyKey.run(call.accountId, call.mode, idem.key); // nothing was done under it
          return full;
        }
        if (call.options.event) this.events.insertEvent(call.options.event, call.options.eventPayload);
        for (const d of call.deliveries) {
          insert.run({ ...deliveryParams(d), sign: d.sign ? 1 : 0, body: bodyOnEvent(d, call.options) ? null : d.body });
          stats.accepted(call.accountId, call.mode, d.created_at, 1);
        }
        // a call's deliveries are all its account's; counted before the next call of this commit
        // checks its backlog (backlogFull)
        if (call.deliveries.length > 0) this.s.addPending.run(call.accountId, call.deliveries.length);
        return null;
      });
      this.addStats(stats);
      return out;
    });
    const results = this.durable ? this.relaxed(commit) : commit();
    const lanes = lanesOf(calls.filter((_, i) => results[i] === null).flatMap((c) => c.deliveries));
    if (lanes.length > 0) this.work.emit('work', lanes);
    const durable = this.durable === null ? Promise.resolve() : calls.length >= FLUSH_ON_LOOP_AT ? this.flushOnLoop() : this.durable.sync();
    return results.map((result) => ({ result, durable }));
  }

  /**
   * Why `adding` more deliveries cannot be accepted for the account now (its pending ones, kept by
   * triggers, would pass its max_pending_deliveries), or null when they can. Inside the commit:
   * the calls before this one in the same commit are already counted.
   */
  private backlogFull(accountId: string, adding: number, defaults: LimitDefaults): BacklogFullError | null {
    const max = this.limits.effective(accountId, defaults).max_pending_deliveries;
    const pending = this.limits.pending(accountId);
    return backlogAllows(pending, adding, max) ? null : new BacklogFullError(pending, adding, max);
  }

  private flushOnLoop(): Promise<void> {
    try {
      this.flushNow();
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Leases the deliveries `seqs` names (picked inside the same transaction), oldest first. */
  private leaseSeqs(seqs: readonly number[], lease: { now: number; margin: number; token: string; secrets_after: number }): ClaimedDelivery[] {
    const rows = seqs.map((seq) => this.s.lease.get({ ...lease, seq }) as Row);
    rows.sort((a, b) => (a.seq as number) - (b.seq as number));
    return rows.map(toClaimed);
  }

  async claimDue(req: ClaimRequest): Promise<ClaimedDelivery[]> {
    if (req.limit <= 0) return [];
    const lease = {
      now: req.now,
      margin: req.leaseMarginMs,
      token: `${req.owner}.${++this.claimCounter}`,
      secrets_after: req.secretsRetiredAfter,
    };
    return this.relaxed(() =>
      this.conn.db.transaction(() => {
        const seqs = (
          req.origin !== undefined
            ? this.s.dueSeqsOfOrigin.all({ now: req.now, origin: req.origin, limit: req.limit })
            : this.s.dueSeqs.all({ now: req.now, excluded: JSON.stringify(req.excludeOrigins), limit: req.limit })
        ) as number[];
        return this.leaseSeqs(seqs, lease);
      })(),
    );
  }

  async claimLanes(req: LaneClaimRequest): Promise<ClaimedDelivery[]> {
    const lease = {
      now: req.now,
      margin: req.leaseMarginMs,
      token: `${req.owner}.${++this.claimCounter}`,
      secrets_after: req.secretsRetiredAfter,
    };
    return this.relaxed(() => this.conn.db.transaction(() => this.lanes.claim(req, (seqs) => this.leaseSeqs(seqs, lease)))());
  }

  async pendingLanes(): Promise<PendingLane[]> {
    return this.lanes.pending();
  }

  async expireHeld(req: HeldExpiry): Promise<number> {
    return this.relaxed(() => this.conn.db.transaction(() => this.lanes.expire(req))());
  }

  async releaseClaims(claims: readonly ReleasedClaim[], options: { quiet?: boolean } = {}): Promise<void> {
    if (claims.length === 0) return;
    this.relaxed(() =>
      this.conn.db.transaction(() => {
        for (const c of claims) this.s.release.run({ id: c.delivery_id, token: c.lease_token });
      })(),
    );
    if (!options.quiet) this.work.emit('work', null);
  }

  async recordAttempts(results: readonly AttemptOutcomeRecord[]): Promise<void> {
    await Promise.all(results.map((r) => this.results.add(r)));
  }

  private commitResults(items: AttemptOutcomeRecord[]): void[] {
    const now = Date.now();
    const stats = new StatsTally();
    this.relaxed(() => this.conn.db.transaction(() => {
      for (const r of items) {
        const row = this.s.finishAttempt.get({
          status: r.status,
          attempt: r.attempt.attempt,
          http_status: r.attempt.http_status,
          now,
          next: r.next_attempt_at,
          id: r.delivery_id,
          token: r.lease_token,
        }) as Row | undefined;
        if (!row) continue; // the lease was lost: another claim owns this delivery now
        this.s.insertAttempt.run({ seq: row.seq, ...r.attempt });
        stats.attempt(row.account_id as string, row.mode as string, r.attempt.created_at, r.attempt.outcome, row.status as string);
      }
      this.addStats(stats);
    })());
    // a retry's time is known to the dispatcher that recorded it; nobody else needs waking
    return items.map(() => undefined);
  }

  async expediteLane(lane: Lane, now: number): Promise<number> {
    return this.relaxed(() => this.conn.db.transaction(() => this.lanes.expedite(lane, now))());
  }

  async claimGated(req: GatedClaimRequest): Promise<GatedClaim> {
    const out: GatedClaim = { claimed: [], nextAt: null, anyGates: false, inFlightBound: false };
    if (!this.s.anyGate.get()) return out;
    out.anyGates = true;
    /** What this call already claimed per lane, origin and account: the caller's room is shared by its gates. */
    const used = new Map<string, number>();
    this.relaxed(() =>
      this.conn.db.transaction(() => {
        for (const g of this.s.gatesDue.all(req.now) as Row[]) {
          const left = req.limit - out.claimed.length;
          if (left <= 0) break;
          const state = {
            perSecond: (g.rate_per_second as number | null) ?? null,
            tat: g.rate_tat as number,
            maxInFlight: (g.max_in_flight as number | null) ?? null,
            leased: g.max_in_flight == null ? 0 : ((this.s.leasedOf.get(g.id, req.now) as Row).n as number),
          };
          const lane = { account_id: g.account_id as string, origin: g.origin as string };
          const keys = [`l ${lane.account_id} ${lane.origin}`, `o ${lane.origin}`, `a ${lane.account_id}`] as const;
          const r = req.room(lane);
          const room = Math.min(r.lane - (used.get(keys[0]) ?? 0), r.origin - (used.get(keys[1]) ?? 0), r.account - (used.get(keys[2]) ?? 0));
          const allow = gateAllowance(state, Math.max(0, Math.min(left, room)), req.now);
          out.inFlightBound ||= allow.inFlightBound;
          if (allow.rateNextAt !== null) out.nextAt = Math.min(out.nextAt ?? Infinity, allow.rateNextAt);
          if (allow.take <= 0) continue;
          const seqs = this.s.dueSeqsOfGate.all({ gate: g.id, now: req.now, limit: allow.take }) as number[];
          const claimed = this.leaseSeqs(seqs, {
            now: req.now,
            margin: req.leaseMarginMs,
            token: `${req.owner}.${++this.claimCounter}`,
            secrets_after: req.secretsRetiredAfter,
          });
          out.claimed.push(...claimed);
          for (const key of keys) used.set(key, (used.get(key) ?? 0) + claimed.length);
          if (state.perSecond !== null) this.s.setRateTat.run(tatAfter(state.perSecond, state.tat, req.now, claimed.length), g.id);
        }
      })(),
    );
    return out;
  }

  async countPendingDeliveries(): Promise<{ queued: number; retrying: number; dead_letter: number }> {
    const out = { queued: 0, retrying: 0, dead_letter: 0 };
    const rows = this.conn.db
      .prepare(`SELECT status, COUNT(*) AS n FROM deliveries WHERE status IN ('queued', 'retrying', 'dead_letter') GROUP BY status`)
      .all() as Array<{ status: keyof typeof out; n: number }>;
    for (const r of rows) out[r.status] = r.n;
    return out;
  }

  onWork(listener: (lanes: readonly Lane[] | null) => void): () => void {
    this.work.on('work', listener);
    return () => this.work.off('work', listener);
  }
}
