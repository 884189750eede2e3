/**
 * A lane's breaker that opens while a claim for that lane is on its way to the store (PostgreSQL:
 * a claim waits on the network, and attempt results come back from the HTTP thread meanwhile).
 * What the claim brings back may not start — the lane is held — and must not be left in the lane's
 * buffer with nothing to start it: when the probe's turn comes, a probe goes out, and after
 * recovery everything is delivered. (Found by making the end-to-end breaker test fail under load:
 * the lane wedged — no probe, no claim — until a restart.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Dispatcher } from '../../src/delivery/dispatcher.js';
import type { AttemptRequest, AttemptResult } from '../../src/net/http-attempt.js';
import type { AttemptOutcomeRecord, ClaimedDelivery, Store } from '../../src/store/store.js';
import { newDelivery } from '../support/new-delivery.js';
import { waitFor } from '../support/wait.js';

const ORIGIN = 'https://down.example.test';
const POLICY = { max_attempts: 25, base_delay_ms: 100, backoff: 'fixed', jitter: 'none', max_delay_ms: 3_600_000, timeout_ms: 10_000, respect_retry_after: true } as const;
/** How long each claim takes to come back from the store. */
const CLAIM_MS = 60;

interface Row {
  id: string;
  run_at: number | null;
  lease: string | null;
  status: string;
  attempts: number;
  next_attempt_at: number | null;
}

/** A store of one lane whose claims take CLAIM_MS; leases and results as the real ones keep them. */
function slowClaimStore(claimMs = CLAIM_MS) {
  const rows = new Map<string, Row>();
  let tokens = 0;
  let listener: (lanes: Array<{ account_id: string; origin: string }> | null) => void = () => undefined;
  const claimedOf = (r: Row): ClaimedDelivery => ({
    ...newDelivery(r.id, { origin: ORIGIN, target: `${ORIGIN}/${r.id}`, policy: POLICY }),
    event_id: null,
    event_type: null,
    destination_id: null,
    attempt_count: r.attempts,
    attempt_base: 0,
    lease_token: `t${++tokens}`,
    signing_secrets: [],
    signature: 'standard-webhooks',
    gate: null,
  });
  const store = {
    kind: 'postgres',
    onWork: (l: typeof listener) => {
      listener = l;
      return () => undefined;
    },
    pendingLanes: async () => {
      const due = [...rows.values()].filter((r) => r.run_at !== null).map((r) => r.run_at!);
      return due.length > 0 ? [{ account_id: 'acct_a', origin: ORIGIN, next_at: Math.min(...due) }] : [];
    },
    claimLanes: async (req: { lanes: Array<{ limit: number }>; leaseMarginMs: number }) => {
      const limit = req.lanes[0]?.limit ?? 0;
      await new Promise((r) => setTimeout(r, claimMs));
      const now = Date.now();
      const due = [...rows.values()].filter((r) => r.run_at !== null && r.run_at <= now).sort((a, b) => a.run_at! - b.run_at!);
      return due.slice(0, limit).map((r) => {
        const c = claimedOf(r);
        r.lease = c.lease_token;
        r.run_at = now + POLICY.timeout_ms + req.leaseMarginMs;
        return c;
      });
    },
    claimGated: async () => ({ claimed: [], nextAt: null, anyGates: false, inFlightBound: false }),
    releaseClaims: async (claims: Array<{ delivery_id: string; lease_token: string }>) => {
      for (const c of claims) {
        const r = rows.get(c.delivery_id)!;
        if (r.lease !== c.lease_token) continue;
        r.lease = null;
        r.run_at = r.next_attempt_at;
      }
    },
    recordAttempts: async (records: AttemptOutcomeRecord[]) => {
      for (const x of records) {
        const r = rows.get(x.delivery_id)!;
        if (r.lease !== x.lease_token) continue;
        r.lease = null;
        r.attempts = x.attempt.attempt;
        r.status = x.status;
        r.next_attempt_at = x.next_attempt_at;
        r.run_at = x.next_attempt_at;
      }
    },
    expireHeld: async () => 0,
    expediteLane: async () => {
      const now = Date.now();
      let n = 0;
      for (const r of rows.values()) {
        if (r.status !== 'retrying' || r.lease !== null || r.run_at === null || r.run_at <= now) continue;
        r.run_at = now;
        r.next_attempt_at = now;
        n++;
      }
      return n;
    },
  } as unknown as Store;
  const add = (id: string) => {
    rows.set(id, { id, run_at: Date.now(), lease: null, status: 'queued', attempts: 0, next_attempt_at: Date.now() });
    listener([{ account_id: 'acct_a', origin: ORIGIN }]);
  };
  return { store, rows, add };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every row delivered within 8 s, or a failure that shows each row's state and the attempts made since the outage ended. */
async function assertAllDeliveredSoon(rows: Map<string, Row>, attemptsSince: () => number): Promise<void> {
  const delivered = await waitFor(() => [...rows.values()].every((r) => r.status === 'delivered'), { timeoutMs: 8_000 }).then(
    () => true,
    () => false,
  );
  const state = [...rows.values()].map((r) => `${r.id} ${r.status}/${r.attempts}${r.lease ? ' leased' : ''}`).join(', ');
  assert.ok(delivered, `not all delivered 8 s after recovery (${attemptsSince()} attempts since): ${state}`);
}

/** A dispatcher over `store` whose breaker opens after `failureThreshold` failures and probes every `probeBaseMs`. */
function breakerDispatcher(store: Store, attempt: (req: AttemptRequest) => Promise<AttemptResult>, perOrigin: number, failureThreshold: number, probeBaseMs: number) {
  const logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
  return new Dispatcher({
    store,
    attempt,
    logger,
    maxInFlight: 64,
    maxInFlightPerOrigin: perOrigin,
    leaseMarginMs: 5000,
    breaker: { failureThreshold, probeBaseMs, probeMaxMs: 10_000 },
  });
}

describe('Dispatcher: the breaker opens while a claim for its lane is in the store', () => {
  it('a probe goes out at its turn and everything is delivered after recovery', async () => {
    const { store, rows, add } = slowClaimStore();
    let outage = true;
    const requests: string[] = [];
    // the third delivery's first attempt is slow, so the first two's retries are claimed while the
    // breaker is still closed, and its failure (the third) opens it while that claim is in the store
    const attempt = async (req: AttemptRequest): Promise<AttemptResult> => {
      const id = req.url.split('/').pop()!;
      requests.push(id);
      const ms = id === 'd2' && requests.filter((x) => x === 'd2').length === 1 ? 150 : 10;
      const down = outage;
      await sleep(ms);
      return { kind: 'response', status: down ? 503 : 200, retryAfter: null, excerpt: down ? 'down' : 'back', latencyMs: ms };
    };
    const dispatcher = breakerDispatcher(store, attempt, 16, 3, 400);
    dispatcher.start();
    try {
      for (let i = 0; i < 3; i++) {
        add(`d${i}`);
        await sleep(5);
      }
      await sleep(300);
      for (let i = 3; i < 10; i++) add(`d${i}`);
      await sleep(2000);
      const duringOutage = requests.length;
      assert.ok(duringOutage <= 12, `${duringOutage} attempts during the outage: the breaker held the lane`);
      outage = false;
      await assertAllDeliveredSoon(rows, () => requests.length - duringOutage);
    } finally {
      await dispatcher.stop(100);
    }
  });

  it('work buffered behind a full origin cap when the breaker opens starts as the probe, and all is delivered', async () => {
    const { store, rows, add } = slowClaimStore(1);
    let outage = true;
    const requests: string[] = [];
    // slow answers: two in flight fill the origin's cap, what else was claimed waits in the buffer
    const attempt = async (req: AttemptRequest): Promise<AttemptResult> => {
      requests.push(req.url.split('/').pop()!);
      const down = outage;
      await sleep(down ? 150 : 5);
      return { kind: 'response', status: down ? 503 : 200, retryAfter: null, excerpt: '', latencyMs: 5 };
    };
    const dispatcher = breakerDispatcher(store, attempt, 2, 2, 300);
    dispatcher.start();
    try {
      for (let i = 0; i < 8; i++) add(`d${i}`);
      await sleep(1500);
      const duringOutage = requests.length;
      assert.ok(duringOutage <= 8, `${duringOutage} attempts during the outage: the breaker held the lane`);
      outage = false;
      await assertAllDeliveredSoon(rows, () => requests.length - duringOutage);
    } finally {
      await dispatcher.stop(100);
    }
  });
});
