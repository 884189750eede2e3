/**
 * A worker frozen (SIGSTOP, a paused VM) longer than its leases: when it wakes, the claims it still
 * holds may already belong to another worker. The dispatcher measures a claim's age on its monotonic
 * clock, which runs on across a freeze, and gives back — unattempted — a claim that waited in its
 * buffer, or took to come back from the store, longer than half the lease margin: its lease may
 * have run out before the attempt could end. (test/e2e-pg/fault-frozen-worker.test.ts freezes a real
 * process; this test pins down the check itself: it fails when the check is taken out.)
 *
 * A fake store that implements only what the dispatcher calls, a clock the test moves, and
 * attempts the test ends when it chooses.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { performance } from 'node:perf_hooks';
import { DEFAULT_POLICY } from '../../src/core/policy.js';
import { Dispatcher } from '../../src/delivery/dispatcher.js';
import type { AttemptRequest, AttemptResult } from '../../src/net/http-attempt.js';
import type { AttemptOutcomeRecord, ClaimedDelivery, ReleasedClaim, Store } from '../../src/store/store.js';
import { newDelivery } from '../support/new-delivery.js';
import { waitFor } from '../support/wait.js';

const ORIGIN = 'https://frozen.example.test';
/** Lease margin 1 s: a claim older than 500 ms on the monotonic clock is not started. */
const LEASE_MARGIN_MS = 1000;
/** How long the process is "frozen": well past a lease (timeout_ms 1 s + the margin). */
const FROZEN_MS = 10_000;

const claimed = (id: string, token: string): ClaimedDelivery => ({
  ...newDelivery(id, { origin: ORIGIN, target: `${ORIGIN}/${id}` }),
  policy: { ...DEFAULT_POLICY, timeout_ms: 1000 },
  event_id: null,
  event_type: null,
  destination_id: null,
  attempt_count: 0,
  attempt_base: 0,
  lease_token: token,
  signing_secrets: [],
  signature: 'standard-webhooks',
  gate: null,
});

/**
 * The world the dispatcher sees: `claims` are what successive claims hand out (then nothing);
 * `beforeClaimReturns` runs while a claim is "on the wire"; attempts wait until the test ends them.
 */
function harness(claims: ClaimedDelivery[][], beforeClaimReturns: () => void = () => undefined) {
  // the monotonic clock runs on as usual, and jumps ahead by however long the process was frozen
  let frozenFor = 0;
  const clock = () => performance.now() + frozenFor;
  const released: ReleasedClaim[] = [];
  const recorded: AttemptOutcomeRecord[] = [];
  const attempted: string[] = [];
  const finish = new Map<string, () => void>();
  let pending = true;
  const store = {
    kind: 'postgres',
    onWork: () => () => undefined,
    pendingLanes: async () => (pending ? [{ account_id: 'acct_a', origin: ORIGIN, next_at: 0 }] : []),
    claimLanes: async () => {
      const next = claims.shift();
      if (next === undefined) {
        pending = false;
        return [];
      }
      beforeClaimReturns();
      return next;
    },
    claimGated: async () => ({ claimed: [], nextAt: null, anyGates: false, inFlightBound: false }),
    releaseClaims: async (r: ReleasedClaim[]) => {
      released.push(...r);
    },
    recordAttempts: async (r: AttemptOutcomeRecord[]) => {
      recorded.push(...r);
    },
    expireHeld: async () => 0,
    expediteLane: async () => 0,
  } as unknown as Store;
  const attempt = (req: AttemptRequest): Promise<AttemptResult> => {
    const id = req.url.slice(ORIGIN.length + 1);
    attempted.push(id);
    return new Promise((resolve) => {
      finish.set(id, () => resolve({ kind: 'response', status: 200, retryAfter: null, excerpt: 'ok', latencyMs: 5 }));
    });
  };
  const logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
  const dispatcher = new Dispatcher({
    store,
    attempt,
    logger,
    clock,
    maxInFlight: 8,
    maxInFlightPerOrigin: 1, // the second claim of the lane waits in its buffer behind the first
    leaseMarginMs: LEASE_MARGIN_MS,
    idlePollMs: 20,
  });
  return {
    dispatcher,
    released,
    recorded,
    attempted,
    /** The process was frozen `ms`: its monotonic clock jumps on by that much. */
    freeze: (ms: number) => void (frozenFor += ms),
    end: (id: string) => finish.get(id)!(),
  };
}

describe('Dispatcher: claims held across a freeze longer than their lease', () => {
  it('a claim buffered when the process froze is given back, not attempted, once it wakes', async () => {
    const h = harness([[claimed('hr_first', 'lease-1'), claimed('hr_buffered', 'lease-2')]]);
    h.dispatcher.start();
    try {
      await waitFor(() => h.attempted.length === 1, { message: 'the first claim is attempted' });
      assert.deepEqual(h.attempted, ['hr_first']);
      h.freeze(FROZEN_MS); // SIGSTOP … SIGCONT: hr_buffered's lease has run out meanwhile
      h.end('hr_first'); // its slot frees: hr_buffered is next in the lane's buffer
      // given back, or (wrongly) attempted
      await waitFor(() => h.released.length + h.attempted.length === 2, { message: 'the buffered claim is dealt with' });
      await new Promise((r) => setTimeout(r, 100)); // room for an attempt that must not come
    } finally {
      await h.dispatcher.stop(1000);
    }
    assert.deepEqual(h.attempted, ['hr_first'], 'the claim buffered across the freeze is not attempted');
    assert.deepEqual(h.released, [{ delivery_id: 'hr_buffered', lease_token: 'lease-2' }], 'it is given back under its own lease');
    assert.deepEqual(
      h.recorded.map((r) => [r.delivery_id, r.lease_token]),
      [['hr_first', 'lease-1']],
      'only the attempt made is recorded (its stale lease is the store’s to refuse)',
    );
  });

  it('a claim buffered for less than half the lease margin is attempted (the check is no blanket refusal)', async () => {
    const h = harness([[claimed('hr_first', 'lease-1'), claimed('hr_buffered', 'lease-2')]]);
    h.dispatcher.start();
    try {
      await waitFor(() => h.attempted.length === 1, { message: 'the first claim is attempted' });
      h.freeze(LEASE_MARGIN_MS / 5); // a short stall, well inside half the margin: still in time
      h.end('hr_first');
      await waitFor(() => h.attempted.length === 2, { message: 'the buffered claim is attempted' });
      h.end('hr_buffered');
      await waitFor(() => h.recorded.length === 2, { message: 'both results recorded' });
    } finally {
      await h.dispatcher.stop(1000);
    }
    assert.deepEqual(h.attempted, ['hr_first', 'hr_buffered']);
    assert.deepEqual(h.released, []);
  });

  it('a claim that came back from the store only after a freeze is given back, not attempted', async () => {
    const h: ReturnType<typeof harness> = harness([[claimed('hr_late', 'lease-9')]], () => h.freeze(FROZEN_MS)); // frozen while the claim was on the wire
    h.dispatcher.start();
    try {
      await waitFor(() => h.released.length + h.attempted.length === 1, { message: 'the late claim is dealt with' });
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await h.dispatcher.stop(1000);
    }
    assert.deepEqual(h.attempted, [], 'not attempted');
    assert.deepEqual(h.released, [{ delivery_id: 'hr_late', lease_token: 'lease-9' }]);
  });
});
