/**
 * The PostgreSQL store on the database's clock (its production setting, clock.ts): what is due,
 * what is leased and when a retry comes due are decided by the database, whatever `now` a process
 * passes — a process whose clock runs an hour ahead or behind sees the same leases as the others.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { IDEMPOTENCY_WINDOW_MS } from '../../src/api/idempotency.js';
import { DEFAULT_POLICY } from '../../src/core/policy.js';
import { RetentionPruner } from '../../src/delivery/retention.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { ClaimRequest, EnqueueOptions } from '../../src/store/store.js';
import { newDelivery } from '../support/new-delivery.js';
import { dropSchema, freshSchemaUrl, postgresAvailable } from '../support/postgres.js';

const base = await postgresAvailable();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ORIGIN = 'https://clock.example.test';
const quiet = { info: () => undefined, error: () => undefined };

/** Runs `fn` as a process whose clock is `skew` ms off: Date.now() (and all computed from it) is. */
async function onClock<T>(skew: number, fn: () => Promise<T>): Promise<T> {
  const real = Date.now;
  Date.now = () => real() + skew;
  try {
    return await fn();
  } finally {
    Date.now = real;
  }
}

/** What the API records with an Idempotency-Key (api/idempotency.ts), on this process's clock. */
const keyed = (key: string): EnqueueOptions => ({
  idempotency: { key, request_hash: 'h', status_code: 202, response: `{"key":"${key}"}`, created_at: Date.now() },
  idempotencyNotBefore: Date.now() - IDEMPOTENCY_WINDOW_MS,
});

describe('PostgreSQL store: shared times on the database clock', { skip: base === null ? 'PostgreSQL unreachable (not CI)' : false }, () => {
  let store: PostgresStore;
  let schema: string;
  let sql: pg.Client;
  /** Makes a stored row `age` ms old by the database's clock. */
  const age = (table: 'idempotency_keys' | 'events', where: string, value: string, ms: number) =>
    sql.query(`UPDATE ${schema}.${table} SET created_at = ${schema}.harepost_now_ms() - $1::bigint WHERE ${where} = $2`, [ms, value]);
  const keyKept = async (key: string) => (await sql.query(`SELECT 1 FROM ${schema}.idempotency_keys WHERE key = $1`, [key])).rowCount === 1;
  const claim = (now: number, over: Partial<ClaimRequest> = {}) =>
    store.claimDue({ now, limit: 10, owner: 'c', leaseMarginMs: 300, origin: ORIGIN, excludeOrigins: [], secretsRetiredAfter: 0, ...over });
  const policy = { ...DEFAULT_POLICY, timeout_ms: 1000 };

  before(async () => {
    const fresh = freshSchemaUrl(base!);
    schema = fresh.schema;
    store = new PostgresStore(fresh.url);
    await store.migrate();
    await store.createAccount({ id: 'acct_a', name: 'a', created_at: 1 });
    sql = new pg.Client({ connectionString: base!, connectionTimeoutMillis: 3000 });
    await sql.connect();
  });
  after(async () => {
    await sql?.end().catch(() => undefined);
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

  it('an Idempotency-Key holds 24 h by the database clock: 23 h old it is replayed for a caller 2 h ahead, 25 h old it is not for one 2 h behind', async () => {
    await store.enqueueDeliveries('acct_a', 'live', [], keyed('k23'));
    await store.enqueueDeliveries('acct_a', 'live', [], keyed('k25'));
    await age('idempotency_keys', 'key', 'k23', 23 * HOUR);
    await age('idempotency_keys', 'key', 'k25', 25 * HOUR);

    await onClock(2 * HOUR, async () => {
      const found = await store.findIdempotentResponse('acct_a', 'live', 'k23', Date.now() - IDEMPOTENCY_WINDOW_MS);
      assert.equal(found?.response, '{"key":"k23"}', 'found: 23 h old by the database clock');
      const again = await store.enqueueDeliveries('acct_a', 'live', [], keyed('k23'));
      assert.equal(again?.response, '{"key":"k23"}', 'a repeat in the same commit path gets the earlier response back');
    });
    await onClock(-2 * HOUR, async () => {
      const found = await store.findIdempotentResponse('acct_a', 'live', 'k25', Date.now() - IDEMPOTENCY_WINDOW_MS);
      assert.equal(found, null, 'not found: 25 h old by the database clock');
      const again = await store.enqueueDeliveries('acct_a', 'live', [], keyed('k25'));
      assert.equal(again, null, 'the key is used anew');
    });
  });

  it('an Idempotency-Key is recorded at the database clock’s now, whatever the clock of the process that recorded it', async () => {
    await onClock(-2 * HOUR, () => store.enqueueDeliveries('acct_a', 'live', [], keyed('k_behind')));
    const { rows } = await sql.query(`SELECT created_at, ${schema}.harepost_now_ms() AS now FROM ${schema}.idempotency_keys WHERE key = 'k_behind'`);
    const off = Number(rows[0].now) - Number(rows[0].created_at);
    assert.ok(off >= 0 && off < 5000, `recorded ${off} ms before the database's now`);
  });

  it('retention prunes the per-minute delivery counters (30 days) by their age on the database clock, whatever the pruner’s clock', async () => {
    // counter rows of a mode of their own, 30 days less an hour and 30 days and an hour old by the database's clock
    const minuteAged = async (ms: number) =>
      Number((await sql.query(`SELECT (${schema}.harepost_now_ms() - $1::bigint) / 60000 AS m`, [ms])).rows[0].m);
    const young = await minuteAged(30 * DAY - HOUR);
    const old = await minuteAged(30 * DAY + HOUR);
    const put = () =>
      sql.query(
        `INSERT INTO ${schema}.delivery_stats (account_id, mode, minute, accepted) VALUES ('acct_a', 'stats', $1, 1), ('acct_a', 'stats', $2, 1)
         ON CONFLICT DO NOTHING`,
        [young, old],
      );
    const kept = async () =>
      (await sql.query(`SELECT minute FROM ${schema}.delivery_stats WHERE mode = 'stats' ORDER BY minute`)).rows.map((r) => Number(r.minute));
    const pass = (skew: number) => onClock(skew, () => new RetentionPruner({ store, retentionDays: 30, intervalMs: 60_000, logger: quiet }).runOnce());

    await put();
    await pass(2 * HOUR);
    assert.deepEqual(await kept(), [young], 'a pruner 2 h ahead keeps the minute 29 days and 23 h old (and prunes the one 30 days and an hour old)');
    await put();
    await pass(-2 * HOUR);
    assert.deepEqual(await kept(), [young], 'a pruner 2 h behind prunes the minute 30 days and an hour old (and keeps the one 29 days and 23 h old)');
  });

  it('retention prunes events (30 days) and Idempotency-Key records (24 h) by their age on the database clock, whatever the pruner’s clock', async () => {
    const event = (id: string): EnqueueOptions => ({
      event: { id, account_id: 'acct_a', mode: 'live', type: 't', body: '{}', idempotency_key: null, metadata: null, created_at: Date.now() },
    });
    for (const id of ['ev_29d23h', 'ev_30d1h']) await store.enqueueDeliveries('acct_a', 'live', [], event(id));
    for (const key of ['r23', 'r25']) await store.enqueueDeliveries('acct_a', 'live', [], keyed(key));
    await age('events', 'id', 'ev_29d23h', 30 * DAY - HOUR);
    await age('events', 'id', 'ev_30d1h', 30 * DAY + HOUR);
    await age('idempotency_keys', 'key', 'r23', 23 * HOUR);
    await age('idempotency_keys', 'key', 'r25', 25 * HOUR);
    const pass = (skew: number) => onClock(skew, () => new RetentionPruner({ store, retentionDays: 30, intervalMs: 60_000, logger: quiet }).runOnce());

    await pass(-2 * HOUR);
    assert.equal(await store.getEvent('acct_a', 'live', 'ev_30d1h'), null, 'a pruner 2 h behind prunes an event 30 days and an hour old');
    assert.equal(await keyKept('r25'), false, 'and a key 25 h old');
    assert.ok(await store.getEvent('acct_a', 'live', 'ev_29d23h'), 'but keeps one 29 days and 23 h old');
    assert.ok(await keyKept('r23'), 'and a key 23 h old');

    await pass(2 * HOUR);
    assert.ok(await store.getEvent('acct_a', 'live', 'ev_29d23h'), 'a pruner 2 h ahead keeps an event 29 days and 23 h old');
    assert.ok(await keyKept('r23'), 'and a key 23 h old');
  });
  it('a signing secret retired by a process 2 h ahead still signs for the whole 24 h overlap, and the current one leads whatever the times stamped', async () => {
    const OVERLAP = 24 * HOUR; // ROTATION_OVERLAP_MS: what the dispatcher and the API pass as now − overlap
    await store.ensureSigningSecret('acct_a', 'test', { secret: 'c2VjcmV0LW9sZA==', created_at: Date.now(), retired_at: null });
    // rotated by a process whose clock runs 2 h ahead (the new secret stamped on it, too)
    await onClock(2 * HOUR, () => store.rotateSigningSecret('acct_a', 'test', { secret: 'c2VjcmV0LW5ldw==', created_at: Date.now(), retired_at: null }));
    // read 23 h later by the database's clock, by a process on time: the old one is still within its overlap
    await sql.query(`UPDATE ${schema}.signing_secrets SET retired_at = ${schema}.harepost_now_ms() - $1::bigint WHERE secret = $2`, [23 * HOUR, 'c2VjcmV0LW9sZA==']);
    // …and the new one stamped an hour before the old (a process 2 h behind made it): the current leads anyway
    await sql.query(`UPDATE ${schema}.signing_secrets SET created_at = created_at - $1::bigint WHERE secret = $2`, [3 * HOUR, 'c2VjcmV0LW5ldw==']);
    const within = await onClock(-2 * HOUR, () => store.getSigningSecrets('acct_a', 'test', Date.now() - OVERLAP));
    assert.deepEqual(within.map((x) => x.secret), ['c2VjcmV0LW5ldw==', 'c2VjcmV0LW9sZA=='], 'a reader 2 h behind keeps the retired secret 23 h into its overlap');
    const d = newDelivery('hr_clock_secret', { origin: ORIGIN, target: `${ORIGIN}/s`, policy, mode: 'test', sign: true });
    await store.enqueueDeliveries('acct_a', 'test', [d]);
    const claimed = await onClock(2 * HOUR, () => claim(Date.now(), { secretsRetiredAfter: Date.now() - OVERLAP }));
    const got = claimed.find((c) => c.id === 'hr_clock_secret');
    assert.deepEqual(got?.signing_secrets, ['c2VjcmV0LW5ldw==', 'c2VjcmV0LW9sZA=='], 'a claim by a process 2 h ahead signs with both, the current first');
    // 25 h on by the database's clock: past the overlap for every reader
    await sql.query(`UPDATE ${schema}.signing_secrets SET retired_at = ${schema}.harepost_now_ms() - $1::bigint WHERE secret = $2`, [25 * HOUR, 'c2VjcmV0LW9sZA==']);
    const past = await onClock(-2 * HOUR, () => store.getSigningSecrets('acct_a', 'test', Date.now() - OVERLAP));
    assert.deepEqual(past.map((x) => x.secret), ['c2VjcmV0LW5ldw=='], 'a reader 2 h behind drops it once the overlap is over');
  });
});
