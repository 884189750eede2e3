/**
 * One attempt in stages (attempts.ts): the request it prepares (headers, signature — a secret made
 * for an account that has none), the result recorded under the latest claim's lease, the retry's
 * wake-up only once that record is written, the lane's health told (a recovered lane expedited, a
 * 410 disabling its destination), nothing recorded for a delivery released meanwhile, a thrown
 * attempt recorded as a network error, and the observer told. A fake store, fake clocks, and a
 * fake attempt the test answers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_POLICY } from '../../src/core/policy.js';
import { Attempts } from '../../src/delivery/attempts.js';
import { LaneBook } from '../../src/delivery/lanes.js';
import { OriginHealth } from '../../src/delivery/origin-health.js';
import type { AttemptRequest, AttemptResult } from '../../src/net/http-attempt.js';
import type { AttemptOutcomeRecord, ClaimedDelivery, Lane } from '../../src/store/store.js';
import { newDelivery } from '../support/new-delivery.js';

const ORIGIN = 'https://a.example.test';
const WALL0 = Date.UTC(2026, 11, 7, 10, 0, 0);

const claimed = (over: Partial<ClaimedDelivery> = {}): ClaimedDelivery => ({
  ...newDelivery('q_1', { origin: ORIGIN, target: `${ORIGIN}/hook` }),
  event_id: null,
  event_type: null,
  destination_id: null,
  attempt_count: 0,
  attempt_base: 0,
  lease_token: 'lease_1',
  signing_secrets: [],
  signature: 'standard-webhooks',
  gate: null,
  ...over,
});

const ok = (latencyMs = 40): AttemptResult => ({ kind: 'response', status: 200, retryAfter: null, excerpt: 'ok', latencyMs });
const status = (s: number): AttemptResult => ({ kind: 'response', status: s, retryAfter: null, excerpt: '', latencyMs: 10 });

/**
 * `answer` ends each attempt (after the clock moved `tookMs`); recordAttempts waits until the test
 * calls `written()` when `holdWrites` is set; the observer throws when `observerThrows` is.
 */
function setup(answer: (req: AttemptRequest) => Promise<AttemptResult>, { holdWrites = false, tookMs = 40, observerThrows = false } = {}) {
  let clock = 1_000;
  const requests: AttemptRequest[] = [];
  const records: AttemptOutcomeRecord[] = [];
  const expedited: Array<[Lane, number]> = [];
  const disabled: Array<[string, string, number]> = [];
  const ensured: string[] = [];
  const observed: Array<[string, number]> = [];
  const logged: Array<[string, object, string | undefined]> = [];
  const wakes: Array<[number, string]> = [];
  const due: string[] = [];
  let kicks = 0;
  let recordFails = false;
  const writes: Array<() => void> = [];
  const health = new OriginHealth({ failureThreshold: 1, probeBaseMs: 1000, probeMaxMs: 1000, now: () => clock });
  const running = new Map<string, ClaimedDelivery>();
  const book = new LaneBook();
  const lane = book.lane('acct_a', ORIGIN);
  const attempts = new Attempts({
    store: {
      recordAttempts: async (rs: AttemptOutcomeRecord[]) => {
        records.push(...rs);
        if (holdWrites) await new Promise<void>((r) => writes.push(r));
        if (recordFails) throw new Error('store down');
      },
      expediteLane: async (l: Lane, at: number) => {
        expedited.push([l, at]);
        return 0;
      },
      disableDestination: async (id: string, reason: string, at: number) => void disabled.push([id, reason, at]),
      ensureSigningSecret: async (accountId, _mode, candidate) => {
        ensured.push(accountId);
        return candidate;
      },
    },
    attempt: async (req) => {
      requests.push(req);
      clock += tookMs;
      return answer(req);
    },
    logger: {
      info: (o, m) => void logged.push(['info', o, m]),
      warn: (o, m) => void logged.push(['warn', o, m]),
      error: (o, m) => void logged.push(['error', o, m]),
    },
    observer: {
      attempt: (outcome, seconds) => {
        observed.push([outcome, seconds]);
        if (observerThrows) throw new Error('metrics broke');
      },
    },
    health,
    now: () => WALL0 + clock,
    clock: () => clock,
    random: () => 0.5,
    running,
    wants: { laneDue: (l) => void due.push(l.key), kick: () => void kicks++ },
    wakeFor: (at, key) => void wakes.push([at, key]),
  });
  /** Runs one attempt of `d`, held in `running` as the dispatcher holds it. */
  const run = (d: ClaimedDelivery) => {
    running.set(d.id, d);
    return attempts.run(lane, d);
  };
  return {
    attempts, run, running, lane, health, requests, records, expedited, disabled, ensured, observed, logged, wakes, due,
    kicks: () => kicks,
    failRecords: () => (recordFails = true),
    written: () => writes.splice(0).forEach((w) => w()),
    advance: (ms: number) => (clock += ms),
    at: () => clock,
  };
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('Attempts', () => {
  it('a 200: the prepared request goes out and the delivery is recorded delivered, under its lease', async () => {
    const t = setup(async () => ok(40));
    await t.run(claimed({ attempt_count: 2, attempt_base: 0, policy: { ...DEFAULT_POLICY, max_attempts: 10, timeout_ms: 7_000 } }));
    assert.equal(t.requests.length, 1);
    const req = t.requests[0]!;
    assert.equal(req.url, `${ORIGIN}/hook`);
    assert.equal(req.method, 'POST');
    assert.equal(req.timeoutMs, 7_000);
    assert.equal(req.body?.toString(), '{"x":1}');
    assert.equal(req.headers['X-Harepost-Attempt'], '3', 'the attempt after the two recorded');
    assert.equal(req.headers['X-Harepost-Queue-Id'], 'q_1');
    assert.equal(req.headers['webhook-signature'], undefined, 'not signed');
    assert.equal(t.records.length, 1);
    const r = t.records[0]!;
    assert.equal(r.delivery_id, 'q_1');
    assert.equal(r.lease_token, 'lease_1');
    assert.equal(r.status, 'delivered');
    assert.equal(r.next_attempt_at, null);
    assert.deepEqual(r.attempt, {
      attempt: 3,
      outcome: 'delivered',
      http_status: 200,
      latency_ms: 40,
      error: null,
      response_excerpt: 'ok',
      created_at: WALL0 + 1_000,
    });
    assert.deepEqual(t.observed, [['delivered', 0.04]]);
    assert.deepEqual(t.wakes, [], 'no retry');
    assert.ok(t.logged.some(([level, , msg]) => level === 'info' && msg === 'attempt'));
  });

  it('a GET goes out without a body', async () => {
    const t = setup(async () => ok());
    await t.run(claimed({ method: 'GET' }));
    assert.equal(t.requests[0]!.body, null);
  });

  it('a retry is recorded with its time, and the loop is woken for it only once that record is written', async () => {
    const t = setup(async () => status(500), { holdWrites: true, tookMs: 10 });
    const running = t.run(claimed());
    await settle();
    assert.equal(t.records.length, 1);
    const r = t.records[0]!;
    assert.equal(r.status, 'retrying');
    assert.equal(r.attempt.outcome, 'failed');
    assert.equal(r.attempt.http_status, 500);
    assert.ok(r.next_attempt_at !== null && r.next_attempt_at > WALL0 + 1_010, 'a retry after the attempt ended');
    const retryInMs = r.next_attempt_at - (WALL0 + 1_010);
    assert.deepEqual(t.wakes, [], 'not before the record is written');
    t.advance(25); // the write took 25 ms
    t.written();
    await running;
    await settle();
    assert.deepEqual(t.wakes, [[1_035 + retryInMs, t.lane.key]], 'timed from when the record was written');
  });

  it('an attempt that throws is recorded as a network error, its latency on the monotonic clock', async () => {
    const t = setup(async () => {
      throw new Error('socket hang up');
    }, { tookMs: 15 });
    await t.run(claimed());
    const r = t.records[0]!;
    assert.equal(r.attempt.outcome, 'network_error');
    assert.equal(r.attempt.error, 'socket hang up');
    assert.equal(r.attempt.latency_ms, 15);
    assert.equal(r.attempt.http_status, null);
  });

  it('a delivery released while its attempt ran is not recorded, nor told to the observer', async () => {
    let t: ReturnType<typeof setup> | null = null;
    t = setup(async () => {
      t!.running.delete('q_1');
      return ok();
    });
    await t.run(claimed());
    assert.equal(t.requests.length, 1);
    assert.deepEqual(t.records, []);
    assert.deepEqual(t.observed, []);
  });

  it('a delivery claimed again while its attempt ran is recorded under the later lease', async () => {
    let t: ReturnType<typeof setup> | null = null;
    t = setup(async () => {
      t!.running.set('q_1', claimed({ lease_token: 'lease_2' }));
      return ok();
    });
    await t.run(claimed());
    assert.equal(t.records[0]!.lease_token, 'lease_2');
  });

  it("the lane's breaker is told; a lane back after an outage has its waiting deliveries expedited and claimed for", async () => {
    const t = setup(async () => ok());
    t.health.finished(t.lane.key, 'down'); // threshold 1: open
    assert.equal(t.health.held(t.lane.key), true);
    await t.run(claimed());
    await settle();
    assert.equal(t.health.held(t.lane.key), false, 'closed by the answer');
    assert.deepEqual(t.expedited, [[{ account_id: 'acct_a', origin: ORIGIN }, WALL0 + 1_040]]);
    assert.deepEqual(t.due, [t.lane.key]);
    assert.equal(t.kicks(), 1);
  });

  it('a failure opens the lane; nothing is expedited', async () => {
    const t = setup(async () => status(503));
    await t.run(claimed());
    await settle();
    assert.equal(t.health.held(t.lane.key), true);
    assert.deepEqual(t.expedited, []);
    assert.deepEqual(t.due, []);
  });

  it("a 410 Gone disables a destination's delivery's destination", async () => {
    const t = setup(async () => status(410));
    await t.run(claimed({ destination_id: 'dest_1' }));
    await settle();
    assert.equal(t.disabled.length, 1);
    assert.equal(t.disabled[0]![0], 'dest_1');
    assert.match(t.disabled[0]![1], /410 Gone/);
    assert.equal(t.disabled[0]![2], WALL0 + 1_040);
  });

  it('a signed send of an account with no secret gets one made, and is signed with it', async () => {
    const t = setup(async () => ok());
    await t.run(claimed({ sign: true }));
    assert.deepEqual(t.ensured, ['acct_a']);
    const h = t.requests[0]!.headers;
    assert.match(h['webhook-signature'] ?? '', /^v1,/);
    assert.equal(h['webhook-timestamp'], String(Math.floor((WALL0 + 1_000) / 1000)));
    assert.equal(h['webhook-id'], 'q_1');
  });

  it('a signed delivery with secrets read with its claim uses them; none is made', async () => {
    const t = setup(async () => ok());
    await t.run(claimed({ sign: true, signing_secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'] }));
    assert.deepEqual(t.ensured, []);
    assert.match(t.requests[0]!.headers['webhook-signature'] ?? '', /^v1,/);
  });

  it('a failed record write is logged, not thrown; recordsWritten waits for writes under way', async () => {
    const t = setup(async () => ok(), { holdWrites: true });
    t.failRecords();
    const running = t.run(claimed());
    await settle();
    let written = false;
    const waiting = t.attempts.recordsWritten().then(() => (written = true));
    await settle();
    assert.equal(written, false, 'the write is under way');
    t.written();
    await running;
    await waiting;
    assert.ok(t.logged.some(([level, , msg]) => level === 'error' && msg === 'recording an attempt failed'));
  });

  it("an observer's failure costs nothing", async () => {
    const t = setup(async () => ok(), { observerThrows: true });
    await t.run(claimed());
    assert.equal(t.observed.length, 1);
    assert.equal(t.records.length, 1);
    assert.ok(t.logged.some(([, , msg]) => msg === 'attempt'), 'logged after the observer');
  });
});
