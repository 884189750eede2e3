/**
 * A frozen worker (issue 21, item 3): a `serve --role worker` process with attempts in flight and
 * claims buffered is stopped (SIGSTOP) for longer than its leases, while another worker goes on.
 * The other takes its deliveries once their leases run out; when the frozen one is continued
 * (SIGCONT) it records nothing over the newer claims (lease tokens), starts no attempt for a claim
 * whose lease ran out while it was frozen, does not crash, and goes on working. The repeated
 * attempts are at most the ones it had in flight at the freeze.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { request } from 'undici';
import { freePort } from '../support/free-port.js';
import { exited, harepostProcesses } from '../support/harepost-processes.js';
import { sendMany, startHeldReceiver, verifyExampleTest } from '../support/held-receiver.js';
import { postgresAvailable } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';

const base = await postgresAvailable();
const SENDS = 30;
const LEASE_MS = 3000; // timeout_ms 2000 + HAREPOST_LEASE_MARGIN_MS 1000
const FROZEN_MS = 2 * LEASE_MS + 500;

describe('a frozen worker (PostgreSQL, SIGSTOP/SIGCONT)', { skip: base === null ? 'PostgreSQL unreachable (not CI)' : false }, () => {
  const cleanup: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  it('the other worker delivers its work; woken, it records nothing over the newer claims and goes on working', { timeout: 60_000 }, async () => {
    const hp = await harepostProcesses(base!, {
      tmpPrefix: 'harepost-frozen-',
      accountName: 'Frozen worker',
      env: { HAREPOST_LEASE_MARGIN_MS: '1000', HAREPOST_MAX_IN_FLIGHT_PER_ORIGIN: '4' },
    });
    cleanup.push(() => hp.close());
    const receiver = await startHeldReceiver(hp.pki, () => ({ status: 200, holdMs: 1500 }));
    cleanup.push(() => receiver.close());
    hp.spawnServe('api', await freePort());
    const frozen = hp.spawnServe('worker', await freePort());
    const other = hp.spawnServe('worker', await freePort());
    await hp.allReady();
    await verifyExampleTest(hp);
    const pid = frozen.child.pid!;
    const sampler = setInterval(() => receiver.attribute(hp.workerPids()), 50);
    cleanup.push(async () => clearInterval(sampler));
    cleanup.push(async () => void (frozen.child.exitCode === null && frozen.child.kill('SIGCONT')));

    const ids = await sendMany(hp, receiver.port, SENDS, { timeout_ms: 2000 });
    // freeze it while it has attempts in flight (and, with 4 slots for 30 sends, claims in its buffer)
    await waitFor(
      () => {
        receiver.attribute(hp.workerPids());
        return receiver.inFlight().some((h) => h.pid === pid);
      },
      { timeoutMs: 15_000, intervalMs: 5, message: 'the worker to freeze never had an attempt in flight' },
    );
    frozen.child.kill('SIGSTOP');
    const frozenAt = performance.now();
    const frozenWall = Date.now();
    const [{ n: leasedAtFreeze }] = (
      await hp.db.query(`SELECT count(*)::int AS n FROM ${hp.schema}.deliveries WHERE lease_token IS NOT NULL`)
    ).rows;

    // the other worker delivers everything, the frozen one's work included, once its leases run out
    await waitFor(
      async () => {
        const r = await hp.db.query(`SELECT count(*)::int AS n FROM ${hp.schema}.deliveries WHERE status = 'delivered'`);
        return r.rows[0].n === SENDS && performance.now() - frozenAt >= FROZEN_MS;
      },
      { timeoutMs: 40_000, intervalMs: 100, message: 'the other worker did not deliver everything' },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${hp.logs(2000)}`);
    });
    receiver.attribute(hp.workerPids());
    // what the frozen one had sent and not had answered when it was stopped
    const cut = receiver.hits.filter((h) => h.pid === pid && (h.doneAt === null || h.doneAt > frozenAt));
    const hitsBeforeWake = receiver.hits.length;
    frozen.child.kill('SIGCONT');
    const wokenAt = performance.now();
    await new Promise((r) => setTimeout(r, 3000));
    receiver.attribute(hp.workerPids());

    // it is alive and serving
    assert.equal(frozen.child.exitCode, null, `the frozen worker is still running: ${frozen.stderr().slice(-2000)}`);
    const health = await request(`http://127.0.0.1:${frozen.port}/healthz`);
    await health.body.dump();
    assert.equal(health.statusCode, 200, 'it answers /healthz');

    // it started nothing for the claims whose leases ran out while it was frozen
    const afterWake = receiver.hits.filter((h) => h.arrivedAt > wokenAt);
    assert.deepEqual(afterWake.map((h) => `${h.id} (pid ${h.pid})`), [], 'no attempt after the wake: everything was delivered already');
    assert.equal(receiver.hits.length, hitsBeforeWake);

    // repeats are bounded by what was in flight at the freeze
    const duplicates = receiver.duplicates();
    console.log(
      `frozen worker: ${SENDS} sends, ${receiver.hits.length} requests for ${receiver.byId.size} queue_ids; ` +
        `${leasedAtFreeze} leased in all at the freeze, ${cut.length} of the frozen worker's requests unanswered at the freeze; ` +
        `${duplicates} repeated, ${receiver.overlaps().length} overlapping; frozen ${((wokenAt - frozenAt) / 1000).toFixed(1)} s`,
    );
    assert.ok(cut.length >= 1, 'the freeze caught at least one attempt in flight');
    assert.ok(duplicates <= cut.length, `repeated attempts (${duplicates}) ≤ attempts in flight at the freeze (${cut.length})`);
    for (const id of ids) assert.ok(receiver.byId.has(id), `${id} arrived`);

    // the store keeps the newer claims' results: one delivered attempt each, none from the stale leases
    const rows = (
      await hp.db.query(
        `SELECT d.id, d.status, d.attempt_count, d.lease_token, a.attempt, a.outcome, a.created_at
         FROM ${hp.schema}.deliveries d JOIN ${hp.schema}.attempts a ON a.delivery_seq = d.seq`,
      )
    ).rows;
    assert.equal(rows.length, SENDS, 'one attempt row per delivery');
    for (const r of rows) {
      assert.equal(r.status, 'delivered', r.id);
      assert.equal(r.attempt_count, 1, `${r.id}: one attempt counted`);
      assert.equal(r.lease_token, null, `${r.id}: not leased`);
      assert.equal(r.outcome, 'delivered');
    }
    for (const h of cut) {
      const row = rows.find((r) => r.id === h.id)!;
      assert.ok(Number(row.created_at) >= frozenWall, `${h.id}: its recorded attempt is the other worker's, made after the freeze`);
    }

    // and it goes on working: with the other worker gone, new sends are its alone
    other.child.kill('SIGTERM');
    assert.notEqual(await exited(other.child, 10_000), null, 'the other worker stopped');
    const more = await sendMany(hp, receiver.port, 5, { timeout_ms: 2000 });
    await waitFor(() => more.every((id) => receiver.byId.has(id)), { timeoutMs: 15_000, intervalMs: 50, message: 'the woken worker did not deliver new sends' });
    receiver.attribute([pid]);
    assert.ok(more.every((id) => receiver.byId.get(id)!.every((h) => h.pid === pid || h.pid === null)), 'delivered by the woken worker');
  });
});
