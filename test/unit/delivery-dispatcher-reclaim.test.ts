/**
 * The embedded store compares due times and leases on its one process's clock: when that clock
 * jumps ahead past a lease, the claim hands the dispatcher a delivery it is still attempting. The
 * dispatcher must not attempt it a second time meanwhile; the attempt in flight records its result
 * under the newer claim's lease (the only one the store still honours).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Dispatcher } from '../../src/delivery/dispatcher.js';
import type { AttemptRequest, AttemptResult } from '../../src/net/http-attempt.js';
import type { AttemptOutcomeRecord, ClaimedDelivery, Store } from '../../src/store/store.js';
import { newDelivery } from '../support/new-delivery.js';

const ORIGIN = 'https://jump.example.test';

describe('Dispatcher: a delivery claimed again while its attempt is in flight', () => {
  it('is not attempted twice at once; the result is recorded under the latest lease', async () => {
    let claims = 0;
    let pending = true;
    const recorded: AttemptOutcomeRecord[] = [];
    const claimed = (): ClaimedDelivery => ({
      ...newDelivery('hr_jump', { origin: ORIGIN, target: `${ORIGIN}/x` }),
      event_id: null,
      event_type: null,
      destination_id: null,
      attempt_count: 0,
      attempt_base: 0,
      lease_token: `t${++claims}`,
      signing_secrets: [],
      signature: 'standard-webhooks',
      gate: null,
    });
    // every claim hands it out again while it is not recorded: as if its lease always looked run out
    const store = {
      kind: 'sqlite',
      onWork: () => () => undefined,
      pendingLanes: async () => (pending ? [{ account_id: 'acct_a', origin: ORIGIN, next_at: 0 }] : []),
      claimLanes: async () => (pending ? [claimed()] : []),
      claimGated: async () => ({ claimed: [], nextAt: null, anyGates: false, inFlightBound: false }),
      releaseClaims: async () => undefined,
      recordAttempts: async (r: AttemptOutcomeRecord[]) => {
        recorded.push(...r);
        pending = false;
      },
      expireHeld: async () => 0,
      expediteLane: async () => 0,
    } as unknown as Store;
    let inFlight = 0;
    let most = 0;
    let attempts = 0;
    const attempt = async (_req: AttemptRequest): Promise<AttemptResult> => {
      attempts++;
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 400));
      inFlight--;
      return { kind: 'response', status: 200, retryAfter: null, excerpt: 'ok', latencyMs: 400 };
    };
    const logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
    const dispatcher = new Dispatcher({ store, attempt, logger, maxInFlight: 8, maxInFlightPerOrigin: 8, leaseMarginMs: 1000, idlePollMs: 50 });
    dispatcher.start();
    await new Promise((r) => setTimeout(r, 700));
    await dispatcher.stop(1000);
    assert.ok(claims >= 2, `it was claimed again while in flight (${claims} claims)`);
    assert.equal(most, 1, 'never two attempts of it at once');
    assert.equal(attempts, 1, 'one attempt');
    assert.equal(recorded.length, 1);
    assert.equal(recorded[0]!.lease_token, `t${claims}`, 'recorded under the latest claim’s lease');
    assert.equal(recorded[0]!.status, 'delivered');
  });
});
