/**
 * One delivery's attempt, in stages: prepare (headers, signature) → call → decide
 * (core/attempt-decision.ts, pure) → tell the lane's health → record → after (the retry's wake-up,
 * the observer, the log). The dispatcher starts it once the delivery holds a slot and hands the
 * slot on when `run` settles; what this needs of the dispatcher is passed in: the claims it is
 * running (read only: a delivery no longer there was released at shutdown, and the one there is
 * the latest claim, whose lease the result is recorded under), its wake-up reasons and its wake
 * heap. Results are written in the background; `recordsWritten` waits for those under way.
 */
import { type AttemptDecision, decideAfterAttempt } from '../core/attempt-decision.js';
import { attemptHeaders } from '../core/outgoing.js';
import type { AttemptOutcome } from '../core/outcome.js';
import { signatureHeaders, withHeaders } from '../core/signature-headers.js';
import { generateSigningSecret } from '../core/signing.js';
import type { AttemptRequest, AttemptResult } from '../net/http-attempt.js';
import type { AttemptOutcomeRecord, ClaimedDelivery, Store } from '../store/store.js';
import { errorText } from './error-text.js';
import type { LaneState } from './lanes.js';
import type { OriginHealth } from './origin-health.js';
import type { WakeReasons } from './wake-reasons.js';

export interface DispatcherLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Told of every attempt as it ends (metrics); must not throw, and cannot slow the dispatcher. */
export interface AttemptObserver {
  attempt(outcome: AttemptOutcome, seconds: number): void;
}

export interface AttemptsOptions {
  store: Pick<Store, 'recordAttempts' | 'expediteLane' | 'disableDestination' | 'ensureSigningSecret'>;
  attempt: (req: AttemptRequest) => Promise<AttemptResult>;
  logger: DispatcherLogger;
  observer?: AttemptObserver;
  /** Each lane's breaker and throttle: told every attempt's verdict. */
  health: OriginHealth;
  /** The wall clock (what is recorded and sent) and the monotonic one (latencies, the retry's wake-up). */
  now: () => number;
  clock: () => number;
  random: () => number;
  /** The dispatcher's claims in flight, by delivery id (read only). */
  running: ReadonlyMap<string, ClaimedDelivery>;
  /** The dispatcher's wake-up reasons: a recovered lane's expedited work is due. */
  wants: Pick<WakeReasons, 'laneDue' | 'kick'>;
  /** Wakes the dispatcher for the lane `key` at `at` (clock time): a retry comes due. */
  wakeFor: (at: number, key: string) => void;
}

export class Attempts {
  private readonly pendingRecords = new Set<Promise<void>>();

  constructor(private readonly opts: AttemptsOptions) {}

  /** Settles once the results being written now are written (or failed). */
  async recordsWritten(): Promise<void> {
    await Promise.allSettled([...this.pendingRecords]);
  }

  /**
   * One attempt, in stages: prepare (headers, signature) → call → decide (core/attempt-decision.ts,
   * pure) → tell the lane's health → record → after (the retry's wake-up, observer, log). The
   * attempt holds its slot until its result is durable: a crash repeats at most the attempts that
   * hold slots (HAREPOST_MAX_IN_FLIGHT), never one whose slot was already handed on.
   */
  async run(lane: LaneState, d: ClaimedDelivery): Promise<void> {
    const attempt = d.attempt_count + 1;
    const startedAt = this.opts.now();
    const startedClock = this.opts.clock();
    let result: AttemptResult;
    try {
      const secrets = d.sign ? await this.signingSecrets(d) : null;
      result = await this.opts.attempt(this.prepare(d, attempt, startedAt, secrets));
    } catch (err) {
      result = { kind: 'network_error', error: errorText(err), latencyMs: Math.round(this.opts.clock() - startedClock) };
    }
    if (!this.opts.running.has(d.id)) return; // released during shutdown: someone else will attempt it
    const finishedAt = this.opts.now();
    const decision = decideAfterAttempt(result, d, finishedAt, this.opts.random);
    this.tellHealth(lane, d, decision, finishedAt);
    const write = this.record(d, attempt, startedAt, result, decision);
    this.after(lane, d, attempt, result, decision, write);
    await write;
  }

  /** Prepare: the request, with its signature headers when the delivery is signed (`secrets`). */
  private prepare(d: ClaimedDelivery, attempt: number, startedAt: number, secrets: string[] | null): AttemptRequest {
    const body = d.method === 'GET' ? null : d.body;
    let headers = attemptHeaders(d, attempt);
    if (secrets !== null) {
      const signing = { secrets, messageId: d.id, timestampSec: Math.floor(startedAt / 1000), body, eventType: d.event_type };
      headers = withHeaders(headers, signatureHeaders(d.signature, signing));
    }
    return { url: d.target, method: d.method, headers, body, timeoutMs: d.policy.timeout_ms };
  }

  /**
   * The attempt's verdict goes to its lane's breaker. A lane back after an outage has what waits on
   * its own retry schedule made due now (paced by the ramp); a 410 Gone disables the destination.
   */
  private tellHealth(lane: LaneState, d: ClaimedDelivery, decision: AttemptDecision, finishedAt: number): void {
    if (this.opts.health.finished(lane.key, decision.verdict, decision.throttleMs)) {
      this.opts.store
        .expediteLane({ account_id: d.account_id, origin: d.origin }, finishedAt)
        .then(() => {
          this.opts.wants.laneDue(lane);
          this.opts.wants.kick();
        })
        .catch((err: unknown) => this.opts.logger.error({ err: errorText(err) }, 'expediting a recovered lane failed'));
    }
    if (decision.disableReason !== null) {
      this.opts.store
        .disableDestination(d.destination_id!, decision.disableReason, finishedAt)
        .catch((err: unknown) => this.opts.logger.error({ err: errorText(err) }, 'disabling a destination failed'));
    }
  }

  /** Record: the attempt and the delivery's next status, written in the background; the write is returned. */
  private record(d: ClaimedDelivery, attempt: number, startedAt: number, result: AttemptResult, decision: AttemptDecision): Promise<void> {
    const record: AttemptOutcomeRecord = {
      delivery_id: d.id,
      // the latest claim of it in this process, should it have been claimed again meanwhile (begin)
      lease_token: (this.opts.running.get(d.id) ?? d).lease_token,
      status: decision.status,
      next_attempt_at: decision.nextAttemptAt,
      attempt: {
        attempt,
        outcome: decision.outcome,
        http_status: decision.httpStatus,
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
    return write;
  }

  /** After: wake for the retry once it is recorded; tell the observer; log. */
  private after(lane: LaneState, d: ClaimedDelivery, attempt: number, result: AttemptResult, decision: AttemptDecision, write: Promise<void>): void {
    const { outcome, retryInMs } = decision;
    if (retryInMs !== null) {
      // wake for our own retry, counted from when its result is recorded: the store times the
      // retry from its own statement (the database's clock on PostgreSQL), so a look timed from
      // finishedAt comes a record's latency early, finds nothing due, and the retry would wait
      // for the next idle look
      void write.then(() => this.opts.wakeFor(this.opts.clock() + retryInMs, lane.key));
    }
    try {
      this.opts.observer?.attempt(outcome, result.latencyMs / 1000);
    } catch {
      // an observer's failure never costs a delivery
    }
    this.opts.logger.info({ queue_id: d.id, attempt, outcome, status: decision.httpStatus, latency_ms: result.latencyMs }, 'attempt');
    if (result.kind !== 'response' && result.detail !== undefined) {
      // what the attempt's error keeps from the customer (the addresses a name resolved to) is the operator's
      this.opts.logger[result.kind === 'blocked' ? 'warn' : 'info']({ queue_id: d.id, attempt, outcome, detail: result.detail }, 'attempt detail');
    }
  }

  /**
   * The secrets that sign this delivery, newest first: its destination's (event deliveries) or
   * the account's (sends), read with the claim. An account that never had one gets one now.
   */
  private async signingSecrets(d: ClaimedDelivery): Promise<string[]> {
    if (d.signing_secrets.length > 0 || d.destination_id) return d.signing_secrets;
    const made = await this.opts.store.ensureSigningSecret(d.account_id, d.mode, {
      secret: generateSigningSecret(),
      created_at: this.opts.now(),
      retired_at: null,
    });
    return [made.secret];
  }
}
