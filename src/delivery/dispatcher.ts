/**
 * The dispatcher: claims due deliveries in batches under a lease, attempts them, records each
 * result and schedules the next attempt. It wakes when the store says new work is due, when a
 * slot frees up, or when the earliest scheduled retry comes due; it never polls fast.
 *
 * Concurrency is capped in total and per target origin, so one slow or dead target cannot take
 * every slot: origins at their cap are left out of the claim, and extra deliveries for an origin
 * that fill up within one batch are given straight back.
 */
import { randomBytes } from 'node:crypto';
import { attemptHeaders } from '../core/outgoing.js';
import {
  classifyHttpStatus,
  parseRetryAfter,
  statusAfterAttempt,
  type AttemptOutcome,
} from '../core/outcome.js';
import { retryDelayMs } from '../core/retry.js';
import { signatureHeaders, withHeaders } from '../core/signature-headers.js';
import { ROTATION_OVERLAP_MS, generateSigningSecret } from '../core/signing.js';
import type { AttemptRequest, AttemptResult } from '../net/http-attempt.js';
import { type AttemptVerdict, OriginHealth } from './origin-health.js';
import type { AttemptOutcomeRecord, ClaimedDelivery, ReleasedClaim, Store } from '../store/store.js';

/** An origin open this long gets its due backlog parked out of the due index … */
const PARK_AFTER_MS = 2_000;
/**
 * … until this far ahead (or its recovery). While it stays open, what arrived since and what
 * would come due before the next look is parked again this often: each parked batch is moved
 * once per PARK_FOR_MS, never the whole backlog at once, and a claim across origins walks at most
 * about this long's arrivals of a held origin.
 */
const PARK_FOR_MS = 5 * 60_000;
const PARK_EVERY_MS = 1_000;
/** With no destination under flow control, new work looks for one at most this often. */
const GATE_LOOK_MS = 250;

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
  leaseMarginMs: number;
  /** Most deliveries claimed in one statement. */
  claimBatch?: number;
  /** Longest sleep when idle: a safety net, not the way work is found. */
  idlePollMs?: number;
  now?: () => number;
  random?: () => number;
  observer?: AttemptObserver;
  /** Circuit breaker: consecutive failures that open an origin, and its probe backoff. */
  breaker?: { failureThreshold: number; probeBaseMs: number; probeMaxMs: number };
}

export class Dispatcher {
  private readonly owner = `w${randomBytes(6).toString('hex')}`;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly claimBatch: number;
  private readonly idlePollMs: number;
  private readonly perOrigin = new Map<string, number>();
  private readonly running = new Map<string, ClaimedDelivery>();
  private readonly pendingRecords = new Set<Promise<void>>();
  private inFlight = 0;
  private active = false;
  private kicked = false;
  /** A claim across origins is due: new work, a timer, or capacity that cut the last one short. */
  private generalWanted = true;
  private lastGeneralFull = false;
  /** Origins that were at their cap when a slot freed: they may have due work waiting. */
  private readonly refill = new Set<string>();
  /** Claimed (leased) deliveries waiting for a slot of their origin, oldest first. */
  private readonly waiting = new Map<string, Array<{ d: ClaimedDelivery; claimedAt: number }>>();
  /** Earliest due time outside saturated origins; undefined until read again. */
  private nextDue: number | null | undefined = undefined;
  private wake: (() => void) | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | null = null;

  /** Destinations with flow control may have due work: claim through their gates. */
  private gatedWanted = true;
  private anyGates = true;
  private lastGatedAt = 0;
  /** When a gate held back by its rate (or by in-flight elsewhere) should be looked at again. */
  private gateNextAt: number | null = null;
  /** Open origins: since when, and when their backlog was last parked. */
  private readonly openSince = new Map<string, number>();
  private readonly parkedAt = new Map<string, number>();

  private readonly health: OriginHealth;
  /** Origins held at the last look: when one is no longer, it is refilled. */
  private held = new Set<string>();

  constructor(private readonly opts: DispatcherOptions) {
    this.now = opts.now ?? Date.now;
    this.health = new OriginHealth({
      ...(opts.breaker ?? { failureThreshold: 5, probeBaseMs: 1000, probeMaxMs: 10_000 }),
      now: this.now,
    });
    this.random = opts.random ?? Math.random;
    this.claimBatch = opts.claimBatch ?? 256;
    this.idlePollMs = opts.idlePollMs ?? 1000;
  }

  /** Attempts in flight right now. */
  get inFlightCount(): number {
    return this.inFlight;
  }

  start(): void {
    if (this.active) return;
    this.active = true;
    this.unsubscribe = this.opts.store.onWork((origins) => {
      // new work only for origins at their cap is picked up by their refills: no scan needed
      if (this.anyGates || this.now() - this.lastGatedAt >= GATE_LOOK_MS) this.gatedWanted = true;
      if (origins !== null && origins.every((o) => this.isSaturated(o))) {
        if (this.gatedWanted) this.kick();
        return;
      }
      this.generalWanted = true;
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
    const deadline = this.now() + graceMs;
    while (this.inFlight > 0 && this.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, deadline - this.now()))));
    }
    const abandoned: ReleasedClaim[] = [
      ...this.running.values(),
      ...[...this.waiting.values()].flat().map((w) => w.d),
    ].map((d) => ({ delivery_id: d.id, lease_token: d.lease_token }));
    this.waiting.clear();
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

  /** Origins whose due work a general claim leaves alone: at their cap, or held by their health. */
  private saturatedOrigins(): string[] {
    const out = new Set<string>(this.health.blockedOrigins());
    for (const [origin, n] of this.perOrigin) if (n >= this.opts.maxInFlightPerOrigin) out.add(origin);
    return [...out];
  }

  private isSaturated(origin: string): boolean {
    return (this.perOrigin.get(origin) ?? 0) >= this.opts.maxInFlightPerOrigin || this.health.blocked(origin);
  }

  /** Held origins whose hold has ended since the last look get a refill. */
  private noticeReleases(): void {
    const now = new Set(this.health.blockedOrigins());
    for (const origin of this.held) if (!now.has(origin)) this.refill.add(origin);
    this.held = now;
  }

  /**
   * Three kinds of claim keep the cost of a claim independent of any one origin's backlog:
   * a general claim (new work arrived, a retry came due, or the last one was cut short by
   * capacity) that leaves saturated origins out; a refill of one origin when one of its slots
   * frees up (cheap: by origin); and nothing at all while only saturated origins have work.
   */
  private async loop(): Promise<void> {
    while (this.active) {
      this.kicked = false;
      try {
        this.noticeReleases();
        await this.parkOpenOrigins();
        await this.refillOrigins();
        if (this.gatedWanted) {
          this.gatedWanted = false;
          await this.claimGatedWork();
        }
        if (this.generalWanted) {
          this.generalWanted = false;
          this.nextDue = undefined;
          const room = Math.min(this.opts.maxInFlight - this.inFlight, this.claimBatch);
          this.lastGeneralFull = room <= 0 || (await this.claimGeneral(room));
          if (this.lastGeneralFull && room > 0) this.generalWanted = true;
        }
      } catch (err) {
        this.opts.logger.error({ err: errorText(err) }, 'claiming due deliveries failed; retrying shortly');
        this.generalWanted = true;
        await this.sleep(500);
        continue;
      }
      if (!this.active) break;
      if (this.generalWanted || this.kicked) continue;
      let delay = this.idlePollMs;
      if (this.inFlight < this.opts.maxInFlight) {
        try {
          // only as far as the longest sleep: what is due later is looked for after it
          if (this.nextDue === undefined) {
            this.nextDue = await this.opts.store.nextDueAt(this.saturatedOrigins(), this.now() + this.idlePollMs);
          }
          if (this.nextDue !== null) delay = Math.max(0, Math.min(delay, this.nextDue - this.now()));
          const change = this.health.nextChange();
          if (change !== null) delay = Math.max(0, Math.min(delay, change - this.now() + 1));
          if (this.gateNextAt !== null) delay = Math.max(0, Math.min(delay, this.gateNextAt - this.now()));
        } catch (err) {
          this.opts.logger.error({ err: errorText(err) }, 'reading the next due time failed');
        }
      }
      if (this.kicked) continue;
      if (delay <= 0 || !(await this.sleep(delay))) {
        // the timer, not a kick
        this.generalWanted = true;
        this.gatedWanted = true;
      }
    }
  }

  /**
   * Claims for destinations with flow control, no more per origin than can start now (a
   * delivery claimed under a rate limit must not wait in a buffer and then go out in a bunch).
   */
  private async claimGatedWork(): Promise<void> {
    const room = Math.min(this.opts.maxInFlight - this.inFlight, this.claimBatch);
    this.gateNextAt = null;
    if (room <= 0) return; // a completion asks again
    const now = this.now();
    this.lastGatedAt = now;
    const result = await this.opts.store.claimGated({
      now,
      limit: room,
      owner: this.owner,
      leaseMarginMs: this.opts.leaseMarginMs,
      secretsRetiredAfter: now - ROTATION_OVERLAP_MS,
      room: (origin) =>
        Math.max(
          0,
          this.health.allowance(origin, this.opts.maxInFlightPerOrigin, this.perOrigin.get(origin) ?? 0) -
            (this.waiting.get(origin)?.length ?? 0),
        ),
    });
    this.anyGates = result.anyGates;
    this.gateNextAt = result.nextAt;
    // its slots free up in other processes too, and nobody tells us: look again soon
    if (result.inFlightBound) this.gateNextAt = Math.min(this.gateNextAt ?? Infinity, now + GATE_LOOK_MS);
    if (result.claimed.length >= room) this.gatedWanted = true;
    await this.admitAll(result.claimed);
  }

  /**
   * The backlog of an origin whose circuit stays open steps out of the due index (parked until
   * a while ahead, or until it recovers), so claims across origins do not walk it each time.
   * Its probes still find it (claims by origin take parked work); a crash leaves it due later.
   */
  private async parkOpenOrigins(): Promise<void> {
    const now = this.now();
    const open = new Set(this.health.openOrigins());
    for (const origin of this.openSince.keys()) {
      if (!open.has(origin)) {
        this.openSince.delete(origin);
        this.parkedAt.delete(origin); // recovery made its work due again (expediteOrigin)
      }
    }
    for (const origin of open) {
      const since = this.openSince.get(origin);
      if (since === undefined) {
        this.openSince.set(origin, now);
        continue;
      }
      const parked = this.parkedAt.get(origin);
      if (now - since < PARK_AFTER_MS || (parked !== undefined && now - parked < PARK_EVERY_MS)) continue;
      this.parkedAt.set(origin, now);
      await this.opts.store.parkOrigin(origin, now + PARK_FOR_MS, now + 2 * PARK_EVERY_MS);
    }
  }

  /** Claims for origins that were saturated and have a free slot again. */
  private async refillOrigins(): Promise<void> {
    for (const origin of [...this.refill]) {
      const inFlight = this.perOrigin.get(origin) ?? 0;
      const busy = inFlight + (this.waiting.get(origin)?.length ?? 0);
      // enough to fill its free slots and a buffer as deep as its cap: one claim serves many
      // completions — but only what its health allows for an origin held or recovering
      const room = this.health.tracking(origin)
        ? this.health.allowance(origin, this.opts.maxInFlightPerOrigin, inFlight) - (this.waiting.get(origin)?.length ?? 0)
        : Math.min(2 * this.opts.maxInFlightPerOrigin - busy, this.claimBatch);
      this.refill.delete(origin);
      if (room <= 0) continue; // its buffer is full; a completion brings it back
      const claimed = await this.opts.store.claimDue({
        now: this.now(),
        limit: room,
        owner: this.owner,
        leaseMarginMs: this.opts.leaseMarginMs,
        excludeOrigins: [],
        origin,
        secretsRetiredAfter: this.now() - ROTATION_OVERLAP_MS,
      });
      await this.admitAll(claimed);
    }
  }

  /** Claims one batch across origins and starts it. True when the batch was full (more may be waiting). */
  private async claimGeneral(room: number): Promise<boolean> {
    const claimed = await this.opts.store.claimDue({
      now: this.now(),
      limit: room,
      owner: this.owner,
      leaseMarginMs: this.opts.leaseMarginMs,
      excludeOrigins: this.saturatedOrigins(),
      secretsRetiredAfter: this.now() - ROTATION_OVERLAP_MS,
    });
    const released = await this.admitAll(claimed);
    return claimed.length === room && released === 0;
  }

  /**
   * Starts what fits under the caps; keeps the rest, still leased, in its origin's buffer (at
   * most one cap deep) to start as slots free — no claim round trip per completion; gives back
   * what does not fit. Returns how many were given back.
   */
  private async admitAll(claimed: readonly ClaimedDelivery[]): Promise<number> {
    const now = this.now();
    const giveBack: ReleasedClaim[] = [];
    for (const d of claimed) {
      if (this.hasSlot(d.origin)) {
        this.begin(d);
        continue;
      }
      const queue = this.waiting.get(d.origin) ?? [];
      if (queue.length < this.opts.maxInFlightPerOrigin) {
        queue.push({ d, claimedAt: now });
        this.waiting.set(d.origin, queue);
      } else {
        giveBack.push({ delivery_id: d.id, lease_token: d.lease_token });
      }
    }
    if (giveBack.length > 0) await this.opts.store.releaseClaims(giveBack, { quiet: true });
    return giveBack.length;
  }

  private hasSlot(origin: string): boolean {
    return (
      this.inFlight < this.opts.maxInFlight &&
      this.health.allowance(origin, this.opts.maxInFlightPerOrigin, this.perOrigin.get(origin) ?? 0) > 0
    );
  }

  /**
   * Starts buffered deliveries of `origin` while it has slots. One that waited so long its lease
   * could run out before its attempt ends is given back instead (another claim will take it).
   */
  private startWaiting(origin: string): void {
    const queue = this.waiting.get(origin);
    if (!queue) return;
    const stale: ReleasedClaim[] = [];
    const maxWait = this.opts.leaseMarginMs / 2;
    while (queue.length > 0 && this.hasSlot(origin)) {
      const { d, claimedAt } = queue.shift()!;
      if (this.now() - claimedAt > maxWait) stale.push({ delivery_id: d.id, lease_token: d.lease_token });
      else this.begin(d);
    }
    if (queue.length === 0) this.waiting.delete(origin);
    if (stale.length > 0) {
      this.opts.store
        .releaseClaims(stale, { quiet: true })
        .catch((err: unknown) => this.opts.logger.error({ err: errorText(err) }, 'giving back claims failed'))
        .finally(() => {
          this.refill.add(origin);
          this.kick();
        });
    }
  }

  private begin(d: ClaimedDelivery): void {
    this.health.started(d.origin);
    this.inFlight++;
    this.perOrigin.set(d.origin, (this.perOrigin.get(d.origin) ?? 0) + 1);
    this.running.set(d.id, d);
    void this.attemptOne(d).finally(() => {
      this.running.delete(d.id);
      const wasFull = this.inFlight >= this.opts.maxInFlight;
      this.inFlight--;
      const before = this.perOrigin.get(d.origin) ?? 1;
      if (before <= 1) this.perOrigin.delete(d.origin);
      else this.perOrigin.set(d.origin, before - 1);
      if (this.active) {
        this.startWaiting(d.origin);
        if (wasFull) for (const origin of [...this.waiting.keys()]) this.startWaiting(origin);
        const wasLimited = before >= this.opts.maxInFlightPerOrigin || this.health.tracking(d.origin);
        if (wasLimited && !this.waiting.has(d.origin)) this.refill.add(d.origin);
      }
      if (wasFull || this.lastGeneralFull) this.generalWanted = true;
      if (d.gate !== null || wasFull) this.gatedWanted = true;
      this.kick();
    });
  }

  private async attemptOne(d: ClaimedDelivery): Promise<void> {
    const attempt = d.attempt_count + 1;
    const startedAt = this.now();
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
      result = { kind: 'network_error', error: errorText(err), latencyMs: this.now() - startedAt };
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
    const next = statusAfterAttempt(outcome, attempt - d.attempt_base, d.policy.max_attempts);
    // the origin is throttled by a Retry-After only as far as this delivery honours one
    const throttleMs = d.policy.respect_retry_after && retryAfterMs !== null ? Math.min(retryAfterMs, d.policy.max_delay_ms) : null;
    if (this.health.finished(d.origin, verdictOf(outcome, throttleMs), throttleMs)) {
      // back after an outage: what waits on its own retry schedule is due now, paced by the ramp
      this.opts.store
        .expediteOrigin(d.origin, finishedAt)
        .then(() => {
          this.refill.add(d.origin);
          this.kick();
        })
        .catch((err: unknown) => this.opts.logger.error({ err: errorText(err) }, 'expediting a recovered origin failed'));
    }
    if (d.destination_id && result.kind === 'response' && result.status === 410) {
      const reason = `The destination answered 410 Gone to delivery ${d.id} at ${new Date(finishedAt).toISOString()}`;
      this.opts.store
        .disableDestination(d.destination_id, reason, finishedAt)
        .catch((err: unknown) => this.opts.logger.error({ err: errorText(err) }, 'disabling a destination failed'));
    }
    const nextAttemptAt = next.retry ? finishedAt + retryDelayMs(d.policy, attempt - d.attempt_base, retryAfterMs, this.random) : null;
    if (nextAttemptAt !== null && this.nextDue !== undefined && (this.nextDue === null || nextAttemptAt < this.nextDue)) {
      this.nextDue = nextAttemptAt; // wake for our own retry
    }
    const record: AttemptOutcomeRecord = {
      delivery_id: d.id,
      lease_token: d.lease_token,
      status: next.status,
      next_attempt_at: nextAttemptAt,
      attempt: {
        attempt,
        outcome,
        http_status: result.kind === 'response' ? result.status : null,
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

/** What an attempt says about its target: answering as meant, down, or asking to slow down. */
function verdictOf(outcome: AttemptOutcome, retryAfterMs: number | null): AttemptVerdict {
  if (outcome === 'delivered' || outcome === 'rejected' || outcome === 'blocked') return 'up';
  if (outcome === 'failed' && retryAfterMs !== null) return 'throttled';
  return 'down';
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
