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
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { attemptHeaders } from '../core/outgoing.js';
import {
  classifyHttpStatus,
  parseRetryAfter,
  statusAfterAttempt,
  targetAvailability,
  type AttemptOutcome,
} from '../core/outcome.js';
import { retryDelayMs } from '../core/retry.js';
import { signatureHeaders, withHeaders } from '../core/signature-headers.js';
import { ROTATION_OVERLAP_MS, generateSigningSecret } from '../core/signing.js';
import type { AttemptRequest, AttemptResult } from '../net/http-attempt.js';
import { heldErrorText } from './held-error.js';
import { type LaneState, LaneBook, laneKey, laneOfKey } from './lanes.js';
import { OriginHealth, verdictOf } from './origin-health.js';
import { WakeHeap } from './wake-heap.js';
import type { AttemptOutcomeRecord, ClaimedDelivery, Lane, LaneRoom, ReleasedClaim, Store } from '../store/store.js';

/** With no destination under flow control, new work looks for one at most this often. */
const GATE_LOOK_MS = 250;
/** A lane held past the bound has its expired deliveries ended this often, this many at a time. */
const EXPIRE_EVERY_MS = 1_000;
const EXPIRE_BATCH = 500;
/** The default hold bound: the default policy's max_delay_ms (see docs/reliability.md). */
export const DEFAULT_HOLD_MAX_MS = 3_600_000;

export interface DispatcherLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Told of every attempt as it ends (metrics); must not throw, and cannot slow the dispatcher. */
export interface AttemptObserver {
  attempt(outcome: AttemptOutcome, seconds: number): void;
}

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

/** A lane held (open or throttled): since when (wall clock, to tell; monotonic, to time), and when its expired deliveries were last ended. */
interface Hold {
  lane: Lane;
  since: number;
  sinceClock: number;
  checkedAt: number;
}

export class Dispatcher {
  private readonly owner = `w${randomBytes(6).toString('hex')}`;
  private readonly now: () => number;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly claimBatch: number;
  private readonly idlePollMs: number;
  private readonly capOrigin: number;
  private readonly capAccount: number;
  private readonly holdMaxMs: number;
  private readonly book = new LaneBook();
  /** When lanes come due: retries this process scheduled, and what its look found due soon. */
  private readonly wakes = new WakeHeap();
  private readonly running = new Map<string, ClaimedDelivery>();
  /** The order claims came in: of two claims of one delivery in this process, the later holds its lease. */
  private readonly claimOrder = new WeakMap<ClaimedDelivery, number>();
  private claims = 0;
  private readonly pendingRecords = new Set<Promise<void>>();
  private active = false;
  private kicked = false;
  /** Lanes may have due work to claim: new work, a freed slot, a retry come due. */
  private claimWanted = true;
  /** Every lane with work is to be looked for (the start, a timer, a wake-up that named none). */
  private lookWanted = true;
  private lastLookAt = 0;
  /** Ties between equally loaded accounts are broken by a turn that moves on each claim. */
  private turn = 0;
  private wake: (() => void) | null = null;
  /** When the loop's current sleep ends (clock time); null while it is not sleeping. */
  private sleepingUntil: number | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | null = null;

  /** Destinations with flow control may have due work: claim through their gates. */
  private gatedWanted = true;
  private anyGates = true;
  private lastGatedAt = 0;
  /** When a gate held back by its rate (or by in-flight elsewhere) should be looked at again. */
  private gateNextAt: number | null = null;

  private readonly health: OriginHealth;
  /** Lanes blocked at the last look: when one is no longer, it is claimed for again. */
  private blocked = new Set<string>();
  private readonly holds = new Map<string, Hold>();

  constructor(private readonly opts: DispatcherOptions) {
    this.now = opts.now ?? Date.now;
    this.clock = opts.clock ?? (() => performance.now());
    this.health = new OriginHealth({
      ...(opts.breaker ?? { failureThreshold: 5, probeBaseMs: 1000, probeMaxMs: 10_000 }),
      now: this.clock,
    });
    this.random = opts.random ?? Math.random;
    this.claimBatch = opts.claimBatch ?? 256;
    this.idlePollMs = opts.idlePollMs ?? 1000;
    this.capOrigin = opts.maxInFlightPerOrigin;
    this.capAccount = Math.min(opts.maxInFlightPerAccount ?? opts.maxInFlight, opts.maxInFlight);
    this.holdMaxMs = opts.holdMaxMs ?? DEFAULT_HOLD_MAX_MS;
  }

  /** Attempts in flight right now. */
  get inFlightCount(): number {
    return this.book.inFlight;
  }

  start(): void {
    if (this.active) return;
    this.active = true;
    this.unsubscribe = this.opts.store.onWork((lanes) => {
      if (this.anyGates || this.clock() - this.lastGatedAt >= GATE_LOOK_MS) this.gatedWanted = true;
      if (lanes === null) this.lookWanted = true;
      else for (const l of lanes) this.book.lane(l.account_id, l.origin).due = true;
      this.claimWanted = true;
      this.kick();
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
    this.kick();
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
    await Promise.allSettled([...this.pendingRecords]);
  }

  private kick(): void {
    this.kicked = true;
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Wakes the loop for `key` at `at` (clock time), early if it sleeps past it. */
  private wakeFor(at: number, key: string): void {
    this.wakes.push(at, key);
    if (this.sleepingUntil !== null && at < this.sleepingUntil) this.kick();
  }

  /** Resolves true when woken by a kick, false when the time ran out. */
  private sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve(false);
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }

  private async loop(): Promise<void> {
    while (this.active) {
      this.kicked = false;
      let more = false;
      try {
        this.noticeHealth();
        more = await this.expireHeld();
        this.wakeScheduled();
        if (this.lookWanted) {
          this.lookWanted = false;
          await this.lookForLanes();
        }
        if (this.gatedWanted) {
          this.gatedWanted = false;
          await this.claimGatedWork();
        }
        if (this.claimWanted) {
          this.claimWanted = false;
          if (await this.claimLanes()) this.claimWanted = true;
        }
      } catch (err) {
        this.opts.logger.error({ err: errorText(err) }, 'claiming due deliveries failed; retrying shortly');
        this.claimWanted = true;
        this.lookWanted = true;
        await this.sleep(500);
        continue;
      }
      if (!this.active) break;
      if (more || this.claimWanted || this.kicked) continue;
      const now = this.clock();
      let wakeAt = Math.min(this.lastLookAt + this.idlePollMs, this.wakes.peek() ?? Infinity);
      const change = this.health.nextChange();
      if (change !== null) wakeAt = Math.min(wakeAt, change + 1);
      if (this.gateNextAt !== null) wakeAt = Math.min(wakeAt, this.gateNextAt);
      for (const h of this.holds.values()) wakeAt = Math.min(wakeAt, Math.max(h.sinceClock + this.holdMaxMs, h.checkedAt + EXPIRE_EVERY_MS));
      const delay = wakeAt - now;
      this.sleepingUntil = wakeAt;
      const kickedAwake = delay > 0 && (await this.sleep(delay));
      this.sleepingUntil = null;
      if (!kickedAwake) {
        // the timer, not a kick
        this.claimWanted = true;
        this.gatedWanted = true;
        if (this.clock() - this.lastLookAt >= this.idlePollMs) this.lookWanted = true;
      }
    }
  }

  /** Lanes whose hold has ended since the last look are claimed for; held lanes are timed. */
  private noticeHealth(): void {
    const now = this.now();
    const clock = this.clock();
    const blocked = new Set(this.health.blockedKeys());
    for (const key of this.blocked) {
      if (blocked.has(key)) continue;
      const { account, origin } = laneOfKey(key);
      this.book.lane(account, origin).due = true;
      this.claimWanted = true;
    }
    this.blocked = blocked;
    for (const key of this.holds.keys()) if (!this.health.held(key)) this.holds.delete(key);
    for (const key of this.health.heldKeys()) {
      if (this.holds.has(key)) continue;
      const { account, origin } = laneOfKey(key);
      this.holds.set(key, { lane: { account_id: account, origin }, since: now, sinceClock: clock, checkedAt: -Infinity });
    }
  }

  /**
   * Dead-letters what a lane held past the bound has waited for longer than the bound: at most
   * one batch per lane and second. True when a batch was full (more may be waiting).
   */
  private async expireHeld(): Promise<boolean> {
    const now = this.now();
    const clock = this.clock();
    let more = false;
    for (const hold of this.holds.values()) {
      if (clock - hold.sinceClock < this.holdMaxMs || clock - hold.checkedAt < EXPIRE_EVERY_MS) continue;
      hold.checkedAt = clock;
      const ended = await this.opts.store.expireHeld({
        ...hold.lane,
        dueBefore: now - this.holdMaxMs,
        now,
        error: heldErrorText(hold.lane.origin, hold.since, this.holdMaxMs),
        limit: EXPIRE_BATCH,
      });
      if (ended > 0) {
        this.opts.logger.warn(
          { account_id: hold.lane.account_id, origin: hold.lane.origin, count: ended, held_since: new Date(hold.since).toISOString() },
          'held deliveries past HAREPOST_HOLD_MAX_MS dead-lettered',
        );
      }
      if (ended >= EXPIRE_BATCH) {
        hold.checkedAt = -Infinity;
        more = true;
      }
    }
    return more;
  }

  /** Lanes whose known next due time has come are due. */
  private wakeScheduled(): void {
    for (const key of this.wakes.popDue(this.clock())) {
      const { account, origin } = laneOfKey(key);
      this.book.lane(account, origin).due = true;
      this.claimWanted = true;
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
        this.book.lane(p.account_id, p.origin).due = true;
        this.claimWanted = true;
      } else if (dueIn < this.idlePollMs) {
        this.wakes.push(clock + dueIn, laneKey(p.account_id, p.origin));
      }
    }
  }

  /** What the lane may still take: to start now, or (behind a full origin or account) to buffer. */
  private wantOf(lane: LaneState, planned: Plan): number {
    const o = this.book.origin(lane.origin);
    const a = this.book.account(lane.account);
    const mine = planned.lanes.get(lane) ?? 0;
    const originBusy = o.inFlight + o.waiting + (planned.origins.get(lane.origin) ?? 0);
    const accountBusy = a.inFlight + a.waiting + (planned.accounts.get(lane.account) ?? 0);
    const laneRoom = this.health.tracking(lane.key)
      ? this.health.allowance(lane.key, this.capOrigin, lane.inFlight) - lane.waiting.length - mine
      : Infinity;
    if (laneRoom <= 0) return 0;
    // (buffered deliveries wait behind a full origin or account: they take no slot of the total)
    const startable = Math.min(
      laneRoom,
      this.capOrigin - originBusy,
      this.capAccount - accountBusy,
      this.opts.maxInFlight - this.book.inFlight - planned.total,
    );
    if (startable > 0) return startable;
    // nothing can start: buffer (one cap deep) behind a full origin or account, not behind the total
    if (originBusy < this.capOrigin && accountBusy < this.capAccount) return 0;
    if (Number.isFinite(laneRoom)) return 0; // a lane held or recovering takes only what it may start
    return Math.max(0, Math.min(2 * this.capOrigin - originBusy, 2 * this.capAccount - accountBusy));
  }

  /**
   * One claim for every lane with due work, fairly shared: accounts holding the fewest slots
   * first, each account a share of the batch, each of its lanes a share of that. True when some
   * lane got all it asked for (it may have more).
   */
  private async claimLanes(): Promise<boolean> {
    const byAccount = new Map<string, LaneState[]>();
    for (const lane of this.book.lanes.values()) {
      if (!lane.due || lane.waiting.length > 0 || this.health.blocked(lane.key)) continue;
      const list = byAccount.get(lane.account);
      if (list) list.push(lane);
      else byAccount.set(lane.account, [lane]);
    }
    if (byAccount.size === 0) return false;
    const load = (account: string) => {
      const a = this.book.account(account);
      return a.inFlight + a.waiting;
    };
    const turn = this.turn++;
    const accounts = [...byAccount.entries()]
      .map(([account, lanes], i) => ({ account, lanes, load: load(account), tie: (i + turn) % byAccount.size }))
      .sort((x, y) => x.load - y.load || x.tie - y.tie);
    const planned: Plan = { lanes: new Map(), origins: new Map(), accounts: new Map(), total: 0 };
    const add = (lane: LaneState, n: number) => {
      planned.lanes.set(lane, (planned.lanes.get(lane) ?? 0) + n);
      planned.origins.set(lane.origin, (planned.origins.get(lane.origin) ?? 0) + n);
      planned.accounts.set(lane.account, (planned.accounts.get(lane.account) ?? 0) + n);
      planned.total += n;
    };
    let budget = this.claimBatch;
    let open = accounts;
    while (budget > 0 && open.length > 0) {
      const share = Math.max(1, Math.floor(budget / open.length));
      const next: typeof accounts = [];
      for (const acct of open) {
        if (budget <= 0) break;
        let give = Math.min(share, budget);
        let lanes = acct.lanes.filter((l) => this.wantOf(l, planned) > 0);
        while (give > 0 && lanes.length > 0) {
          const per = Math.max(1, Math.floor(give / lanes.length));
          const still: LaneState[] = [];
          for (const lane of lanes) {
            if (give <= 0) break;
            const n = Math.min(per, give, this.wantOf(lane, planned));
            if (n > 0) {
              add(lane, n);
              give -= n;
              budget -= n;
            }
            if (this.wantOf(lane, planned) > 0) still.push(lane);
          }
          lanes = still;
        }
        if (acct.lanes.some((l) => this.wantOf(l, planned) > 0)) next.push(acct);
      }
      open = next;
    }
    if (planned.lanes.size === 0) return false;
    const asked = [...planned.lanes];
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
      if ((got.get(lane.key) ?? 0) < limit) lane.due = false; // nothing more due in it now
      else full = true;
    }
    await this.admitAll(claimed, askedAt);
    for (const [lane] of asked) this.book.forgetIfIdle(lane, this.health.tracking(lane.key));
    // slots left for a hungrier account that had nothing due after all go to the buffers
    if (this.book.waiting > 0 && this.book.inFlight < this.opts.maxInFlight) {
      this.startWaiting([...this.book.lanes.values()], this.hungriestDueLoad());
    }
    return full;
  }

  /**
   * Claims for destinations with flow control, no more per lane, origin and account than can
   * start now (a delivery claimed under a rate limit must not wait in a buffer and then go out
   * in a bunch).
   */
  private async claimGatedWork(): Promise<void> {
    const room = Math.min(this.opts.maxInFlight - this.book.inFlight, this.claimBatch);
    this.gateNextAt = null;
    if (room <= 0) return; // a completion asks again
    const now = this.now();
    const askedAt = (this.lastGatedAt = this.clock());
    const result = await this.opts.store.claimGated({
      now,
      limit: room,
      owner: this.owner,
      leaseMarginMs: this.opts.leaseMarginMs,
      secretsRetiredAfter: now - ROTATION_OVERLAP_MS,
      room: (lane) => this.roomOf(lane),
    });
    this.anyGates = result.anyGates;
    // (nextAt is on the wall clock; the timer runs on the monotonic one)
    const clock = this.clock();
    this.gateNextAt = result.nextAt === null ? null : clock + (result.nextAt - this.now());
    // its slots free up in other processes too, and nobody tells us: look again soon
    if (result.inFlightBound) this.gateNextAt = Math.min(this.gateNextAt ?? Infinity, clock + GATE_LOOK_MS);
    if (result.claimed.length >= room) this.gatedWanted = true;
    await this.admitAll(result.claimed, askedAt);
  }

  /** What can start now for a lane: its own allowance, its origin's and its account's free slots. */
  private roomOf(lane: Lane): LaneRoom {
    const key = laneKey(lane.account_id, lane.origin);
    const state = this.book.lanes.get(key);
    const o = this.book.origin(lane.origin);
    const a = this.book.account(lane.account_id);
    return {
      lane: Math.max(0, this.health.allowance(key, this.capOrigin, state?.inFlight ?? 0) - (state?.waiting.length ?? 0)),
      origin: Math.max(0, this.capOrigin - o.inFlight - o.waiting),
      account: Math.max(0, this.capAccount - a.inFlight - a.waiting),
    };
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
      for (const d of claimed) this.book.lane(d.account_id, d.origin).due = true;
      this.claimWanted = true;
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
        if (lane.waiting.length === 0 && this.canStart(lane)) this.begin(lane, d);
        else if (lane.waiting.length < this.capOrigin) this.book.buffer(lane, { d, claimedAt: now });
        else {
          giveBack.push({ delivery_id: d.id, lease_token: d.lease_token });
          lane.due = true;
        }
      }
    }
    if (giveBack.length > 0) await this.opts.store.releaseClaims(giveBack, { quiet: true });
  }

  private canStart(lane: LaneState): boolean {
    return (
      this.book.inFlight < this.opts.maxInFlight &&
      this.book.origin(lane.origin).inFlight < this.capOrigin &&
      this.book.account(lane.account).inFlight < this.capAccount &&
      this.health.allowance(lane.key, this.capOrigin, lane.inFlight) > 0
    );
  }

  /**
   * The fewest attempts in flight of an account with a lane due, unbuffered and able to start
   * (Infinity: none). A slot of the total freed while it was full goes to such an account before
   * a buffered delivery of a busier one: buffers never starve an account with fresh work.
   */
  private hungriestDueLoad(): number {
    let least = Infinity;
    for (const lane of this.book.lanes.values()) {
      if (!lane.due || lane.waiting.length > 0 || this.health.blocked(lane.key)) continue;
      const load = this.book.account(lane.account).inFlight;
      if (load < least && load < this.capAccount && this.book.origin(lane.origin).inFlight < this.capOrigin) least = load;
    }
    return least;
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
        if (lane.waiting.length === 0 || !this.canStart(lane)) continue;
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
        pick.due = true;
      } else {
        this.begin(pick, d);
      }
    }
    if (stale.length > 0) {
      this.opts.store
        .releaseClaims(stale, { quiet: true })
        .catch((err: unknown) => this.opts.logger.error({ err: errorText(err) }, 'giving back claims failed'))
        .finally(() => {
          this.claimWanted = true;
          this.kick();
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
      this.kick();
      return;
    }
    this.health.started(lane.key);
    this.book.started(lane);
    this.running.set(d.id, d);
    void this.attemptOne(lane, d).finally(() => {
      this.running.delete(d.id);
      const totalWasFull = this.book.inFlight >= this.opts.maxInFlight;
      const originWasFull = this.book.origin(lane.origin).inFlight >= this.capOrigin;
      const accountWasFull = this.book.account(lane.account).inFlight >= this.capAccount;
      this.book.finished(lane);
      if (this.active) {
        // the freed slot goes to a buffered delivery that was waiting for it, fairly
        const lanes = new Set<LaneState>([lane]);
        if (originWasFull) for (const l of this.book.origin(lane.origin).lanes) lanes.add(l);
        if (accountWasFull) for (const l of this.book.account(lane.account).lanes) lanes.add(l);
        if (totalWasFull) for (const l of this.book.lanes.values()) lanes.add(l);
        this.startWaiting(lanes, totalWasFull ? this.hungriestDueLoad() : Infinity);
        this.book.forgetIfIdle(lane, this.health.tracking(lane.key));
      }
      this.claimWanted = true;
      if (d.gate !== null || totalWasFull || (this.anyGates && (originWasFull || accountWasFull))) this.gatedWanted = true;
      this.kick();
    });
  }

  private async attemptOne(lane: LaneState, d: ClaimedDelivery): Promise<void> {
    const attempt = d.attempt_count + 1;
    const startedAt = this.now();
    const startedClock = this.clock();
    let result: AttemptResult;
    try {
      const body = d.method === 'GET' ? null : d.body;
      let headers = attemptHeaders(d, attempt);
      if (d.sign) {
        const secrets = await this.signingSecrets(d);
        const signing = { secrets, messageId: d.id, timestampSec: Math.floor(startedAt / 1000), body, eventType: d.event_type };
        headers = withHeaders(headers, signatureHeaders(d.signature, signing));
      }
      result = await this.opts.attempt({ url: d.target, method: d.method, headers, body, timeoutMs: d.policy.timeout_ms });
    } catch (err) {
      result = { kind: 'network_error', error: errorText(err), latencyMs: Math.round(this.clock() - startedClock) };
    }
    if (!this.running.has(d.id)) return; // released during shutdown: someone else will attempt it
    const finishedAt = this.now();
    let outcome: AttemptOutcome;
    let retryAfterMs: number | null = null;
    if (result.kind === 'response') {
      outcome = classifyHttpStatus(result.status);
      if (outcome === 'failed') retryAfterMs = parseRetryAfter(result.retryAfter, finishedAt);
    } else {
      outcome = result.kind;
    }
    const httpStatus = result.kind === 'response' ? result.status : null;
    const next = statusAfterAttempt(outcome, attempt - d.attempt_base, d.policy.max_attempts);
    // the lane is throttled by a Retry-After only as far as this delivery honours one, and only
    // when the target said it is unavailable (429, 503…): a 500's Retry-After is this delivery's alone
    const availability = targetAvailability(outcome, httpStatus);
    const throttleMs =
      availability === 'unavailable' && d.policy.respect_retry_after && retryAfterMs !== null
        ? Math.min(retryAfterMs, d.policy.max_delay_ms)
        : null;
    if (this.health.finished(lane.key, verdictOf(availability, throttleMs), throttleMs)) {
      // back after an outage: what waits on its own retry schedule is due now, paced by the ramp
      this.opts.store
        .expediteLane({ account_id: d.account_id, origin: d.origin }, finishedAt)
        .then(() => {
          lane.due = true;
          this.claimWanted = true;
          this.kick();
        })
        .catch((err: unknown) => this.opts.logger.error({ err: errorText(err) }, 'expediting a recovered lane failed'));
    }
    if (d.destination_id && httpStatus === 410) {
      const reason = `The destination answered 410 Gone to delivery ${d.id} at ${new Date(finishedAt).toISOString()}`;
      this.opts.store
        .disableDestination(d.destination_id, reason, finishedAt)
        .catch((err: unknown) => this.opts.logger.error({ err: errorText(err) }, 'disabling a destination failed'));
    }
    const retryInMs = next.retry ? retryDelayMs(d.policy, attempt - d.attempt_base, retryAfterMs, this.random) : null;
    const nextAttemptAt = retryInMs === null ? null : finishedAt + retryInMs;
    const record: AttemptOutcomeRecord = {
      delivery_id: d.id,
      // the latest claim of it in this process, should it have been claimed again meanwhile (begin)
      lease_token: (this.running.get(d.id) ?? d).lease_token,
      status: next.status,
      next_attempt_at: nextAttemptAt,
      attempt: {
        attempt,
        outcome,
        http_status: httpStatus,
        latency_ms: result.latencyMs,
        error: result.kind === 'response' ? null : result.error,
        response_excerpt: result.kind === 'response' ? result.excerpt : null,
        created_at: startedAt,
      },
    };
    const write = this.opts.store.recordAttempts([record]).catch((err: unknown) => {
      // The lease runs out and the delivery is attempted again: late, never lost.
      this.opts.logger.error({ queue_id: d.id, err: errorText(err) }, 'recording an attempt failed');
    });
    this.pendingRecords.add(write);
    void write.finally(() => this.pendingRecords.delete(write));
    if (retryInMs !== null) {
      // wake for our own retry, counted from when its result is recorded: the store times the
      // retry from its own statement (the database's clock on PostgreSQL), so a look timed from
      // finishedAt comes a record's latency early, finds nothing due, and the retry would wait
      // for the next idle look
      void write.then(() => this.wakeFor(this.clock() + retryInMs, lane.key));
    }
    try {
      this.opts.observer?.attempt(outcome, result.latencyMs / 1000);
    } catch {
      // an observer's failure never costs a delivery
    }
    this.opts.logger.info(
      {
        queue_id: d.id,
        attempt,
        outcome,
        status: record.attempt.http_status,
        latency_ms: result.latencyMs,
      },
      'attempt',
    );
    if (result.kind !== 'response' && result.detail !== undefined) {
      // what the attempt's error keeps from the customer (the addresses a name resolved to) is the operator's
      this.opts.logger[result.kind === 'blocked' ? 'warn' : 'info']({ queue_id: d.id, attempt, outcome, detail: result.detail }, 'attempt detail');
    }
    // the attempt holds its slot until its result is durable: a crash repeats at most the attempts
    // that hold slots (HAREPOST_MAX_IN_FLIGHT), never one whose slot was already handed on
    await write;
  }

  /**
   * The secrets that sign this delivery, newest first: its destination's (event deliveries) or
   * the account's (sends), read with the claim. An account that never had one gets one now.
   */
  private async signingSecrets(d: ClaimedDelivery): Promise<string[]> {
    if (d.signing_secrets.length > 0 || d.destination_id) return d.signing_secrets;
    const made = await this.opts.store.ensureSigningSecret(d.account_id, d.mode, {
      secret: generateSigningSecret(),
      created_at: this.now(),
      retired_at: null,
    });
    return [made.secret];
  }
}

/** What one claim has handed out so far: per lane, origin and account, and in all. */
interface Plan {
  lanes: Map<LaneState, number>;
  origins: Map<string, number>;
  accounts: Map<string, number>;
  total: number;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
