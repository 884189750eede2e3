/**
 * Clocks that disagree (issue 21, item 2), inflicted with libfaketime on real `serve` processes on
 * one PostgreSQL database:
 * - two workers, one whose wall clock runs 40 s ahead, a target that takes 3 s, leases much shorter
 *   than 40 s: no queue_id is ever attempted twice at the same moment, every delivery arrives;
 * - one worker whose wall clock jumps 90 s forward mid-run, then 180 s back: still no overlap (its
 *   own leases do not look expired to it), and its retries keep coming (no timer stalls).
 * Due times and leases are compared on the database's clock; timers run on a monotonic clock.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../support/free-port.js';
import { type HarepostProcesses, harepostProcesses } from '../support/harepost-processes.js';
import {
  type HeldReceiver,
  clockAheadMs,
  fakeClockEnv,
  faketimeSkipReason,
  libfaketime,
  sendMany,
  startHeldReceiver,
  verifyExampleTest,
} from '../support/held-receiver.js';
import { postgresAvailable } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';

const base = await postgresAvailable();
const skip = base === null ? 'PostgreSQL unreachable (not CI)' : faketimeSkipReason();

async function deliveredCount(hp: HarepostProcesses): Promise<number> {
  const r = await hp.db.query(`SELECT count(*)::int AS n FROM ${hp.schema}.deliveries WHERE status = 'delivered'`);
  return r.rows[0].n as number;
}

describe('clocks that disagree (PostgreSQL, libfaketime)', { skip }, () => {
  const cleanup: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  it('a worker 40 s ahead: 40 deliveries to a 3 s target, none attempted twice at once, all delivered', { timeout: 60_000 }, async () => {
    const hp = await harepostProcesses(base!, {
      tmpPrefix: 'harepost-skew-',
      accountName: 'Clock skew',
      // lease = timeout 5 s + margin 2 s: far shorter than the skew
      env: { HAREPOST_LEASE_MARGIN_MS: '2000', HAREPOST_MAX_IN_FLIGHT_PER_ORIGIN: '8' },
    });
    cleanup.push(() => hp.close());
    const receiver: HeldReceiver = await startHeldReceiver(hp.pki, () => ({ status: 200, holdMs: 3000 }));
    cleanup.push(() => receiver.close());
    hp.spawnServe('api', await freePort());
    const normal = hp.spawnServe('worker', await freePort());
    const ahead = hp.spawnServe('worker', await freePort(), fakeClockEnv(libfaketime()!, { offset: '+40s' }));
    await hp.allReady();
    const skew = await clockAheadMs(ahead.port);
    assert.ok(skew > 38_000 && skew < 42_000, `the faked worker's clock runs 40 s ahead (${skew} ms by its Date header)`);
    assert.ok(Math.abs(await clockAheadMs(normal.port)) < 2000, 'the other worker keeps real time');
    await verifyExampleTest(hp);

    const sampler = setInterval(() => receiver.attribute(hp.workerPids()), 100);
    cleanup.push(async () => clearInterval(sampler));
    const ids = await sendMany(hp, receiver.port, 40, { timeout_ms: 5000 });
    await waitFor(async () => (await deliveredCount(hp)) === ids.length, {
      timeoutMs: 40_000,
      intervalMs: 200,
      message: 'not every delivery was recorded delivered',
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n${hp.logs(1500)}`);
    });
    await new Promise((r) => setTimeout(r, 300));
    receiver.attribute(hp.workerPids());
    const perPid = new Map<number | null, number>();
    for (const h of receiver.hits) perPid.set(h.pid, (perPid.get(h.pid) ?? 0) + 1);
    console.log(
      `clock skew: ${ids.length} sends, ${receiver.hits.length} requests for ${receiver.byId.size} queue_ids, ` +
        `${receiver.overlaps().length} overlapping, ${receiver.duplicates()} repeated; ` +
        `requests by the worker 40 s ahead: ${perPid.get(ahead.child.pid!) ?? 0}, by the other: ${perPid.get(normal.child.pid!) ?? 0}`,
    );
    assert.deepEqual(receiver.overlaps(), [], 'no queue_id had two attempts in flight at once');
    for (const id of ids) assert.ok(receiver.byId.has(id), `${id} arrived`);
    assert.equal(receiver.duplicates(), 0, 'no attempt was repeated: no lease looked expired to the worker ahead');
    assert.ok((perPid.get(ahead.child.pid!) ?? 0) > 0, 'the worker ahead took its share');
    assert.ok((perPid.get(normal.child.pid!) ?? 0) > 0, 'the other worker took its share');
    assert.equal(ahead.child.exitCode, null, 'the worker ahead is still running');
  });

  it('a worker whose clock jumps 90 s forward, then 180 s back, mid-run: no overlap, its retries keep flowing', { timeout: 60_000 }, async () => {
    const hp = await harepostProcesses(base!, {
      tmpPrefix: 'harepost-jump-',
      accountName: 'Clock jump',
      env: { HAREPOST_LEASE_MARGIN_MS: '1000', HAREPOST_MAX_IN_FLIGHT_PER_ORIGIN: '16' },
    });
    cleanup.push(() => hp.close());
    // the first attempt of each delivery fails (500: the target is there, no breaker), the second succeeds
    const receiver = await startHeldReceiver(hp.pki, (attempt) => ({ status: attempt <= 1 ? 500 : 200, holdMs: 1500 }));
    cleanup.push(() => receiver.close());
    const clockFile = join(hp.dir, 'faketime');
    writeFileSync(clockFile, '+0\n');
    hp.spawnServe('api', await freePort());
    const jumper = hp.spawnServe('worker', await freePort(), fakeClockEnv(libfaketime()!, { file: clockFile }));
    await hp.allReady();
    await verifyExampleTest(hp);

    const ids = await sendMany(hp, receiver.port, 30, { timeout_ms: 5000, base_delay_ms: 1000, max_attempts: 5 });
    // forward, while first attempts are in flight: its own leases (6 s) must not look expired to it
    await waitFor(() => receiver.hits.length >= 8, { timeoutMs: 15_000, intervalMs: 20, message: 'no attempts arrived' });
    writeFileSync(clockFile, '+90s\n');
    await waitFor(async () => (await clockAheadMs(jumper.port)) > 85_000, { timeoutMs: 5000, intervalMs: 100, message: 'the clock did not jump forward' });
    // back, while retries are scheduled: they must come when due, not 180 s later
    await waitFor(() => receiver.hits.length >= 30, { timeoutMs: 20_000, intervalMs: 20, message: 'first attempts did not all arrive' }).catch(
      (err: Error) => {
        throw new Error(`${err.message}: ${receiver.hits.length} requests\n${hp.logs(3000)}`);
      },
    );
    writeFileSync(clockFile, '-90s\n');
    await waitFor(async () => (await clockAheadMs(jumper.port)) < -85_000, { timeoutMs: 5000, intervalMs: 100, message: 'the clock did not jump back' });
    const jumpedBackAt = receiver.hits.length;

    await waitFor(async () => (await deliveredCount(hp)) === ids.length, {
      timeoutMs: 25_000,
      intervalMs: 200,
      message: 'deliveries stalled after the clock jumped back',
    }).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${await deliveredCount(hp)} of ${ids.length} delivered\n${hp.logs(1500)}`);
    });
    console.log(
      `clock jump: ${ids.length} sends, ${receiver.hits.length} requests (${receiver.hits.length - jumpedBackAt} after the jump back), ` +
        `${receiver.overlaps().length} overlapping`,
    );
    assert.deepEqual(receiver.overlaps(), [], 'no queue_id had two attempts in flight at once');
    for (const id of ids) assert.equal(receiver.byId.get(id)?.some((h) => h.attempt === 2), true, `${id} was retried and arrived`);
    assert.ok(receiver.hits.length > jumpedBackAt, 'attempts kept coming after the clock jumped back');
    assert.equal(jumper.child.exitCode, null, 'the worker is still running');
  });
});
