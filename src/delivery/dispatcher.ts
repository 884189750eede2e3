/**
 * The dispatcher: claims due deliveries in batches under a lease, attempts them, records each
 * result and schedules the next attempt. It wakes when the store says new work is due, when a
 * slot frees up, or when a retry it scheduled comes due; a slow look for every lane with work
 * (once per `idlePollMs`) is the safety net.
 *
 * Its unit is the lane — one account's deliveries to one origin (lanes.ts):
 * - a claim asks for each lane with due work, fairly: accounts holding the fewest slots first,
 *   then shares of the batch per account and per lane, so one account's backlog (however deep)
 *   never delays another's fresh sends beyond one claim;
 * - attempts in flight are capped in total, per origin (the real target, all accounts together)
 *   and per account (HAREPOST_MAX_IN_FLIGHT_PER_ACCOUNT), so nobody holds every slot;
 * - the circuit breaker and the Retry-After throttle are per lane (origin-health.ts): one
 *   account's failing deliveries never hold another account's deliveries to the same origin;
 * - a lane held longer than the hold bound (HAREPOST_HOLD_MAX_MS) has its deliveries past the
 *   bound dead-lettered, in batches, saying since when the target was unavailable.
 *
 * Two clocks: every duration this process keeps (its timers and wake heap, holds, the breaker's
 * backoff, how long a claim has waited in a buffer) is measured on a monotonic clock, so a jump of
 * the wall clock neither fires nor stalls them; the wall clock only stamps what is recorded or
 * sent (an attempt's time, a signature's timestamp, a retry's time: the PostgreSQL store turns
 * that into a delay on the database's clock, which every process shares).
 *
 * Its parts, each small and unit-tested on its own: the book of lanes and what each holds
 * (lanes.ts), the caps and what a claim may ask for under them (capacity.ts), each lane's breaker
 * and throttle (origin-health.ts), lanes held past the bound (holds.ts), why the loop goes round
 * again (wake-reasons.ts), when lanes come due (wake-heap.ts), when destinations with flow control
 * are claimed for (gates.ts), one attempt in stages and its result's recording (attempts.ts), and
 * what an attempt's result decides (core/attempt-decision.ts, pure). Why this file is still some
 * 450 lines: what is left is one delivery's way through this process — claim, admit or buffer,
 * start, hand its slot on — and those steps share the in-flight book, the running map and the
 * claim order, which a completion must change together in one synchronous step (no await between
 * a slot freed and it handed on, or two completions could both take it). Split further, each step
 * would need that state passed in and out; read it top to bottom instead.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ROTATION_OVERLAP_MS } from '../core/signing.js';
import type { AttemptRequest, AttemptResult } from '../net/http-attempt.js';
import { type AttemptObserver, Attempts, type DispatcherLogger } from './attempts.js';
import { Capacity } from './capacity.js';
import { errorText } from './error-text.js';
import { Gates } from './gates.js';
import { DEFAULT_HOLD_MAX_MS, Holds } from './holds.js';
import { type LaneState, LaneBook, laneKey, laneOfKey } from './lanes.js';
import { OriginHealth } from './origin-health.js';
import { WakeHeap } from './wake-heap.js';
import { WakeReasons } from './wake-reasons.js';
import type { ClaimedDelivery, ReleasedClaim, Store } from '../store/store.js';

export type { AttemptObserver, DispatcherLogger } from './attempts.js';

export interface DispatcherOptions {
  store: Store;
  attempt: (req: AttemptRequest) => Promise<AttemptResult>;
  logger: DispatcherLogger;
  maxInFlight: number;
  maxInFlightPerOrigin: number;
  /** Attempts one account may have in flight (default: maxInFlight, no cap of its own). */
  maxInFlightPerAccount?: number;
  leaseMarginMs: number;
  /** Most deliveries claimed in one statement. */
  claimBatch?: number;
  /** How often every lane with work is looked for: a safety net, not the way work is found. */
  idlePollMs?: number;
  /** The wall clock: times recorded and sent (default Date.now). */
  now?: () => number;
  /** The monotonic clock every duration is measured on (default performance.now). */
  clock?: () => number;
  random?: () => number;
  observer?: AttemptObserver;
  /** Circuit breaker: consecutive failures that open a lane, and its probe backoff. */
  breaker?: { failureThreshold: number; probeBaseMs: number; probeMaxMs: number };
  /** A delivery held this long past its scheduled attempt is dead-lettered (default 1 h). */
  holdMaxMs?: number;
}

export class Dispatcher {
  private readonly owner = `w${randomBytes(6).toString('hex')}`;
  private readonly now: () => number;
  private readonly clock: () => number;
  private readonly claimBatch: number;
  private readonly idlePollMs: number;
  /** The caps on attempts in flight (in all, per origin, per account), and what a claim may ask for under them. */
  private readonly cap: Capacity;
  private readonly book = new LaneBook();
  /** When lanes come due: retries this process scheduled, and what its look found due soon. */
  private readonly wakes = new WakeHeap();
  private readonly running = new Map<string, ClaimedDelivery>();
  /** The order claims came in: of two claims of one delivery in this process, the later holds its lease. */
  private readonly claimOrder = new WeakMap<ClaimedDelivery, number>();
  private claims = 0;
  private active = false;
  /** Why the loop goes round again (claim, look, gated work, a kick): set and taken there. */
  private readonly wants = new WakeReasons();
  private lastLookAt = 0;
  private loopDone: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | null = null;

  /** When destinations with flow control (claimed through their gates) are claimed for. */
  private readonly gates = new Gates();

  private readonly health: OriginHealth;
  /** Lanes blocked at the last look: when one is no longer, it is claimed for again. */
  private blocked = new Set<string>();
  /** Lanes held by their breaker or throttle, timed: past the hold bound their deliveries are dead-lettered. */
  private readonly holds: Holds;
  /** One delivery's attempt, in stages, and its result's recording (attempts.ts). */
  private readonly attempts: Attempts;

  constructor(private readonly opts: DispatcherOptions) {
    this.now = opts.now ?? Date.now;
    this.clock = opts.clock ?? (() => performance.now());
    this.health = new OriginHealth({
      ...(opts.breaker ?? { failureThreshold: 5, probeBaseMs: 1000, probeMaxMs: 10_000 }),
      now: this.clock,
    });
    this.claimBatch = opts.claimBatch ?? 256;
    this.idlePollMs = opts.idlePollMs ?? 1000;
    this.cap = new Capacity(this.book, this.health, {
      total: opts.maxInFlight,
      perOrigin: opts.maxInFlightPerOrigin,
      perAccount: Math.min(opts.maxInFlightPerAccount ?? opts.maxInFlight, opts.maxInFlight),
    });
    this.holds = new Holds({
      store: opts.store,
      logger: opts.logger,
      health: this.health,
      now: this.now,
      clock: this.clock,
      holdMaxMs: opts.holdMaxMs ?? DEFAULT_HOLD_MAX_MS,
    });
    this.attempts = new Attempts({
      store: opts.store,
      attempt: opts.attempt,
      logger: opts.logger,
      observer: opts.observer,
      health: this.health,
      now: this.now,
      clock: this.clock,
      random: opts.random ?? Math.random,
      running: this.running,
      wants: this.wants,
      wakeFor: (at, key) => this.wakeFor(at, key),
    });
  }

  /** Attempts in flight right now. */
  get inFlightCount(): number {
    return this.book.inFlight;
  }

  start(): void {
    if (this.active) return;
    this.active = true;
    this.unsubscribe = this.opts.store.onWork((lanes) => {
      if (this.gates.wantedOnNewWork(this.clock())) this.wants.wantGated();
      if (lanes === null) this.wants.wantLook();
      else for (const l of lanes) this.wants.laneDue(this.book.lane(l.account_id, l.origin));
      this.wants.wantClaim();
      this.wants.kick();
    });
    this.loopDone = this.loop();
  }

  /**
   * Stops claiming, waits up to `graceMs` for attempts in flight, gives back the leases of any
   * still running (they will be attempted again: at least once), and waits for results to commit.
   */
  async stop(graceMs: number): Promise<void> {
    if (!this.active) return;
    this.active = false;
    this.unsubscribe?.();
    this.wants.kick();
    await this.loopDone;
    const deadline = this.clock() + graceMs;
    while (this.book.inFlight > 0 && this.clock() < deadline) {
      await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, deadline - this.clock()))));
    }
    const abandoned: ReleasedClaim[] = [...this.running.values(), ...this.book.drainBuffers()].map((d) => ({
      delivery_id: d.id,
      lease_token: d.lease_token,
    }));
    if (this.running.size > 0) {
      this.opts.logger.warn({ count: this.running.size }, 'shutdown grace over: releasing attempts still in flight');
    }
    // attempts still running are abandoned: their results, when they come, are not recorded
    // (the released leases let the next claim attempt them again: at least once)
    this.running.clear();
    if (abandoned.length > 0) await this.opts.store.releaseClaims(abandoned);
    await this.attempts.recordsWritten();
  }

  /** Wakes the loop for `key` at `at` (clock time), early if it sleeps past it. */
  private wakeFor(at: number, key: string): void {
    this.wakes.push(at, key);
    this.wants.dueAt(at);
  }

  private async loop(): Promise<void> {
    while (this.active) {
      this.wants.beginRound();
      let more = false;
      try {
        this.noticeHealth();
        more = await this.holds.expire();
        this.wakeScheduled();
        if (this.wants.takeLook()) await this.lookForLanes();
        if (this.wants.takeGated()) await this.claimGatedWork();
        if (this.wants.takeClaim() && (await this.claimLanes())) this.wants.wantClaim();
      } catch (err) {
        this.opts.logger.error({ err: errorText(err) }, 'claiming due deliveries failed; retrying shortly');
        this.wants.failed();
        await this.wants.sleep(500);
        continue;
      }
      if (!this.active) break;
      if (more || this.wants.pressing()) continue;
      const now = this.clock();
      let wakeAt = Math.min(this.lastLookAt + this.idlePollMs, this.wakes.peek() ?? Infinity);
      const change = this.health.nextChange();
      if (change !== null) wakeAt = Math.min(wakeAt, change + 1);
      wakeAt = Math.min(wakeAt, this.gates.nextWakeAt());
      wakeAt = Math.min(wakeAt, this.holds.nextWakeAt());
      const delay = wakeAt - now;
      const kickedAwake = delay > 0 && (await this.wants.sleep(delay, wakeAt));
      this.wants.awake();
      if (!kickedAwake) this.wants.timerRang(this.clock() - this.lastLookAt >= this.idlePollMs);
    }
  }

  /** Lanes no longer blocked since the last look are claimed for; held lanes are timed (holds.ts). */
  private noticeHealth(): void {
    const now = this.now();
    const clock = this.clock();
    const blocked = new Set(this.health.blockedKeys());
    for (const key of this.blocked) {
      if (blocked.has(key)) continue;
      const { account, origin } = laneOfKey(key);
      this.wants.laneDue(this.book.lane(account, origin));
    }
    this.blocked = blocked;
    this.holds.notice(now, clock);
  }

  /** Lanes whose known next due time has come are due. */
  private wakeScheduled(): void {
    for (const key of this.wakes.popDue(this.clock())) {
      const { account, origin } = laneOfKey(key);
      this.wants.laneDue(this.book.lane(account, origin));
    }
  }

  /** Every lane with work waiting (one index probe each): due now, or due before the next look. */
  private async lookForLanes(): Promise<void> {
    this.lastLookAt = this.clock();
    const pending = await this.opts.store.pendingLanes();
    // next_at is on the wall clock: how long from now it is, on the monotonic one
    const wall = this.now();
    const clock = this.clock();
    for (const p of pending) {
      const dueIn = p.next_at - wall;
      if (dueIn <= 0) {
        this.wants.laneDue(this.book.lane(p.account_id, p.origin));
      } else if (dueIn < this.idlePollMs) {
        this.wakes.push(clock + dueIn, laneKey(p.account_id, p.origin));
      }
    }
  }

  /**
   * One claim for every lane with due work, fairly shared: accounts holding the fewest slots
   * first, each account a share of the batch, each of its lanes a share of that. True when some
   * lane got all it asked for (it may have more).
   */
  private async claimLanes(): Promise<boolean> {
    const planned = this.cap.planClaim(this.claimBatch);
    if (planned === null) {
      // no lane to claim for — but a lane with buffered work is never claimed for (planClaim):
      // what it buffered while held starts here once its hold lets it (a probe's turn)
      this.startBuffered();
      return false;
    }
    const asked = [...planned];
    const now = this.now();
    const askedAt = this.clock();
    const claimed = await this.opts.store.claimLanes({
      now,
      owner: this.owner,
      leaseMarginMs: this.opts.leaseMarginMs,
      secretsRetiredAfter: now - ROTATION_OVERLAP_MS,
      lanes: asked.map(([lane, limit]) => ({ account_id: lane.account, origin: lane.origin, limit })),
    });
    const got = new Map<string, number>();
    for (const d of claimed) {
      const key = laneKey(d.account_id, d.origin);
      got.set(key, (got.get(key) ?? 0) + 1);
    }
    let full = false;
    for (const [lane, limit] of asked) {
      if ((got.get(lane.key) ?? 0) < limit) this.wants.drained(lane); // nothing more due in it now
      else full = true;
    }
    await this.admitAll(claimed, askedAt);
    for (const [lane] of asked) this.book.forgetIfIdle(lane, this.health.tracking(lane.key));
    // slots left for a hungrier account that had nothing due after all go to the buffers
    this.startBuffered();
    return full;
  }

  /** Starts buffered deliveries while slots allow (none of an account busier than one with fresh work due). */
  private startBuffered(): void {
    if (this.book.waiting > 0 && this.book.inFlight < this.cap.total) {
      this.startWaiting([...this.book.lanes.values()], this.cap.hungriestDueLoad());
    }
  }

  /**
   * Claims for destinations with flow control, no more per lane, origin and account than can
   * start now (a delivery claimed under a rate limit must not wait in a buffer and then go out
   * in a bunch).
   */
  private async claimGatedWork(): Promise<void> {
    const room = Math.min(this.cap.total - this.book.inFlight, this.claimBatch);
    this.gates.claimTurn();
    if (room <= 0) return; // a completion asks again
    const now = this.now();
    const askedAt = this.clock();
    this.gates.claimAsked(askedAt);
    const result = await this.opts.store.claimGated({
      now,
      limit: room,
      owner: this.owner,
      leaseMarginMs: this.opts.leaseMarginMs,
      secretsRetiredAfter: now - ROTATION_OVERLAP_MS,
      room: (lane) => this.cap.roomOf(lane),
    });
    if (this.gates.claimAnswered(result, room, this.clock(), this.now())) this.wants.wantGated();
    await this.admitAll(result.claimed, askedAt);
  }

  /**
   * Starts what fits under the caps, lane by lane in turn; keeps the rest, still leased, in its
   * lane's buffer (at most one origin cap deep) to start as slots free — no claim round trip per
   * completion; gives back what does not fit. A claim's age counts from when it was asked for
   * (`askedAt`, monotonic): one that took so long to come back — the process was frozen, say —
   * that its lease may have run out is given back unattempted.
   */
  private async admitAll(claimed: readonly ClaimedDelivery[], askedAt: number): Promise<void> {
    if (claimed.length === 0) return;
    if (this.clock() - askedAt > this.opts.leaseMarginMs / 2) {
      for (const d of claimed) this.wants.laneDue(this.book.lane(d.account_id, d.origin));
      await this.opts.store.releaseClaims(claimed.map((d) => ({ delivery_id: d.id, lease_token: d.lease_token })), { quiet: true });
      return;
    }
    const now = askedAt; // a buffered claim's age is measured on the monotonic clock, from its asking
    const queues = new Map<LaneState, ClaimedDelivery[]>();
    for (const d of claimed) {
      this.claimOrder.set(d, ++this.claims);
      const lane = this.book.lane(d.account_id, d.origin);
      const q = queues.get(lane);
      if (q) q.push(d);
      else queues.set(lane, [d]);
    }
    const giveBack: ReleasedClaim[] = [];
    for (let round = 0; queues.size > 0; round++) {
      for (const [lane, q] of queues) {
        const d = q.shift();
        if (q.length === 0) queues.delete(lane);
        if (!d) continue;
        if (lane.waiting.length === 0 && this.cap.canStart(lane)) this.begin(lane, d);
        // a lane held since the claim was asked for (its breaker opened, a 429 came) buffers
        // nothing: what was claimed for it goes back, due, for the claim at its probe's turn
        else if (lane.waiting.length < this.cap.perOrigin && !this.health.blocked(lane.key)) this.book.buffer(lane, { d, claimedAt: now });
        else {
          giveBack.push({ delivery_id: d.id, lease_token: d.lease_token });
          this.wants.dueLater(lane);
        }
      }
    }
    if (giveBack.length > 0) await this.opts.store.releaseClaims(giveBack, { quiet: true });
  }

  /**
   * Starts buffered deliveries of these lanes while slots allow, the least loaded account first
   * (and none of an account busier than `yieldTo`: that slot is left for a claim). One that
   * waited so long its lease could run out before its attempt ends is given back instead
   * (another claim will take it).
   */
  private startWaiting(lanes: Iterable<LaneState>, yieldTo = Infinity): void {
    const ready = [...lanes].filter((l) => l.waiting.length > 0);
    if (ready.length === 0) return;
    const stale: ReleasedClaim[] = [];
    const maxWait = this.opts.leaseMarginMs / 2;
    for (;;) {
      let pick: LaneState | null = null;
      let pickLoad = Infinity;
      for (const lane of ready) {
        if (lane.waiting.length === 0 || !this.cap.canStart(lane)) continue;
        const load = this.book.account(lane.account).inFlight;
        if (load > yieldTo) continue;
        if (load < pickLoad) {
          pick = lane;
          pickLoad = load;
        }
      }
      if (!pick) break;
      const { d, claimedAt } = this.book.unbuffer(pick)!;
      if (this.clock() - claimedAt > maxWait) {
        stale.push({ delivery_id: d.id, lease_token: d.lease_token });
        this.wants.dueLater(pick);
      } else {
        this.begin(pick, d);
      }
    }
    if (stale.length > 0) {
      this.opts.store
        .releaseClaims(stale, { quiet: true })
        .catch((err: unknown) => this.opts.logger.error({ err: errorText(err) }, 'giving back claims failed'))
        .finally(() => {
          this.wants.wantClaim();
          this.wants.kick();
        });
    }
  }

  private begin(lane: LaneState, d: ClaimedDelivery): void {
    const current = this.running.get(d.id);
    if (current) {
      // Claimed again while this process is attempting it: its lease looked run out to the claim
      // (the embedded store's clock jumped ahead). One attempt at a time: the one in flight goes on
      // and records its result under the later claim's lease; an earlier claim is dropped.
      if ((this.claimOrder.get(d) ?? 0) > (this.claimOrder.get(current) ?? 0)) this.running.set(d.id, d);
      this.wants.kick();
      return;
    }
    this.health.started(lane.key);
    this.book.started(lane);
    this.running.set(d.id, d);
    void this.attempts.run(lane, d).finally(() => {
      this.running.delete(d.id);
      const totalWasFull = this.book.inFlight >= this.cap.total;
      const originWasFull = this.book.origin(lane.origin).inFlight >= this.cap.perOrigin;
      const accountWasFull = this.book.account(lane.account).inFlight >= this.cap.perAccount;
      this.book.finished(lane);
      if (this.active) {
        // the freed slot goes to a buffered delivery that was waiting for it, fairly
        const lanes = new Set<LaneState>([lane]);
        if (originWasFull) for (const l of this.book.origin(lane.origin).lanes) lanes.add(l);
        if (accountWasFull) for (const l of this.book.account(lane.account).lanes) lanes.add(l);
        if (totalWasFull) for (const l of this.book.lanes.values()) lanes.add(l);
        this.startWaiting(lanes, totalWasFull ? this.cap.hungriestDueLoad() : Infinity);
        this.book.forgetIfIdle(lane, this.health.tracking(lane.key));
      }
      this.wants.wantClaim();
      if (this.gates.wantedAfterCompletion({ gated: d.gate !== null, totalWasFull, originWasFull, accountWasFull })) this.wants.wantGated();
      this.wants.kick();
    });
  }
}
