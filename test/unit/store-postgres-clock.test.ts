/**
 * The PostgreSQL store on the database's clock (its production setting, clock.ts): what is due,
 * what is leased and when a retry comes due are decided by the database, whatever `now` a process
 * passes — a process whose clock runs an hour ahead or behind sees the same leases as the others.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_POLICY } from '../../src/core/policy.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { ClaimRequest } from '../../src/store/store.js';
import { newDelivery } from '../support/new-delivery.js';
import { dropSchema, freshSchemaUrl, postgresAvailable } from '../support/postgres.js';

const base = await postgresAvailable();
const HOUR = 3_600_000;
const ORIGIN = 'https://clock.example.test';

describe('PostgreSQL store: shared times on the database clock', { skip: base === null ? 'PostgreSQL unreachable (not CI)' : false }, () => {
  let store: PostgresStore;
  let schema: string;
  const claim = (now: number, over: Partial<ClaimRequest> = {}) =>
    store.claimDue({ now, limit: 10, owner: 'c', leaseMarginMs: 300, origin: ORIGIN, excludeOrigins: [], secretsRetiredAfter: 0, ...over });
  const policy = { ...DEFAULT_POLICY, timeout_ms: 1000 };

  before(async () => {
    const fresh = freshSchemaUrl(base!);
    schema = fresh.schema;
    store = new PostgresStore(fresh.url);
    await store.migrate();
    await store.createAccount({ id: 'acct_a', name: 'a', created_at: 1 });
  });
  after(async () => {
    await store?.close();
    if (schema) await dropSchema(schema, base!);
  });

  it('a send is due at once, even for a process whose clock runs an hour behind or stamped it an hour ahead', async () => {
    const d = newDelivery('hr_clock_1', { origin: ORIGIN, target: `${ORIGIN}/x`, policy, created_at: Date.now() + HOUR });
    await store.enqueueDeliveries('acct_a', 'live', [d]);
    const got = await claim(Date.now() - HOUR);
    assert.deepEqual(got.map((c) => c.id), ['hr_clock_1'], 'due by the database clock, not by created_at nor by the caller');
  });

  it('a lease holds for its length by the database clock: a caller an hour ahead does not take it, one an hour behind takes it once it ran out', async () => {
    const ahead = await claim(Date.now() + HOUR);
    assert.deepEqual(ahead, [], 'the lease (1 s + 300 ms) has not run out by the database clock');
    const lanes = await store.pendingLanes();
    const lane = lanes.find((l) => l.origin === ORIGIN)!;
    const dueIn = lane.next_at - Date.now();
    assert.ok(dueIn > 0 && dueIn <= 1300, `the lane is next due when the lease runs out, told on this process's clock (in ${dueIn} ms)`);
    await new Promise((r) => setTimeout(r, 1400));
    const behind = await claim(Date.now() - HOUR);
    assert.deepEqual(behind.map((c) => c.id), ['hr_clock_1'], 'the lease ran out by the database clock');

    // a retry is due after its delay from the moment it is recorded, by the database clock
    await store.recordAttempts([
      {
        delivery_id: 'hr_clock_1',
        lease_token: behind[0]!.lease_token,
        status: 'retrying',
        next_attempt_at: Date.now() + 60_000,
        attempt: { attempt: 1, outcome: 'failed', http_status: 503, latency_ms: 1, error: null, response_excerpt: '', created_at: Date.now() },
      },
    ]);
    assert.deepEqual(await claim(Date.now() + HOUR), [], 'not due before its delay, even for a caller an hour ahead');
    const [row] = await store.pendingLanes();
    const retryIn = row!.next_at - Date.now();
    assert.ok(retryIn > 58_000 && retryIn <= 60_000, `the retry is due in its delay (${retryIn} ms)`);
  });

  it('a dashboard link and session last their lengths on the database clock, whoever made them and whoever checks', async () => {
    // a link valid 15 minutes, redeemed by an API process whose clock runs an hour ahead
    const madeAt = Date.now();
    await store.createLoginToken({ token_hash: 'tok', account_id: 'acct_a', mode: 'live', created_at: madeAt, expires_at: madeAt + 15 * 60_000 });
    const now = Date.now() + HOUR;
    const session = await store.redeemLoginToken('tok', { id_hash: 'sess', csrf_token: 'c', created_at: madeAt, expires_at: madeAt + 12 * HOUR }, now);
    assert.ok(session, 'the link is seconds old by the database clock: redeemed');
    const seen = await store.getDashboardSession('sess', Date.now() + 11 * HOUR);
    assert.ok(seen, 'checked by a process 11 h ahead, the 12 h session is still open');
    const left = seen.expires_at - Date.now();
    assert.ok(left > 12 * HOUR - 5000 && left <= 12 * HOUR + 1000, `it ends 12 h from its opening by the database clock (${left} ms left)`);
    const moved = await store.switchDashboardSessionMode('sess', 'test', { id_hash: 'sess2', csrf_token: 'c2' }, Date.now() - HOUR);
    assert.ok(moved && Math.abs(moved.expires_at - seen.expires_at) < 5000, 'switching keeps its end');
  });

  it('a recovered lane is expedited to the database clock’s now, whatever the caller’s clock says', async () => {
    assert.equal(await store.expediteLane({ account_id: 'acct_a', origin: ORIGIN }, Date.now() + HOUR), 1);
    const got = await claim(Date.now() - HOUR);
    assert.deepEqual(got.map((c) => c.id), ['hr_clock_1'], 'due now: neither an hour late nor an hour early');
  });
});
