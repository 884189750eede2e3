/**
 * A full disk under the embedded store: Harepost's SQLite file lives on a real 8 MiB tmpfs, a
 * filler file takes most of it, and sends of 60 KiB bodies go on until the disk is full. Callers
 * get 503 storage_unavailable with Retry-After (never another 5xx), /readyz turns 503, the
 * harepost_store_errors_total{kind="disk_full"} counter moves and one log line tells the operator.
 * Deleting the filler frees the disk: sends are accepted again without a restart, /readyz is 200
 * again, and every send that got a 202 is delivered.
 *
 * The disk is the embedded store's, so this test runs it on SQLite in either pass of `npm test`
 * (PostgreSQL's storage faults: test/e2e-pg/fault-storage-readonly.test.ts). Mounting a tmpfs needs
 * root: elsewhere the test is skipped with a loud message, and under CI=true it fails.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { capturedLogger } from '../support/captured-logger.js';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { sleep, waitFor } from '../support/wait.js';

const BODY = { blob: 'x'.repeat(60 * 1024) };
/** What the filler leaves free of the tmpfs: a few dozen 60 KiB sends. */
const LEAVE_FREE = 2 * 1024 * 1024;

/** Mounts an 8 MiB tmpfs at a new folder; the reason it could not, otherwise. */
function mountTmpfs(): { dir: string } | { reason: string } {
  if (process.getuid?.() !== 0) return { reason: 'mounting a tmpfs needs root, and this test runs as another user' };
  const dir = mkdtempSync(join(tmpdir(), 'harepost-full-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir], { encoding: 'utf8' });
  if (mounted.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return { reason: `mount -t tmpfs failed: ${(mounted.stderr || mounted.error?.message || '').trim()}` };
  }
  return { dir };
}

function unmount(dir: string): void {
  spawnSync('umount', ['-l', dir]);
  rmSync(dir, { recursive: true, force: true });
}

/** Fills the file system at `dir` with one file until only `leave` bytes are free. */
function fill(dir: string, leave: number): string {
  const path = join(dir, 'filler');
  const s = statfsSync(dir);
  const free = s.bavail * s.bsize;
  writeFileSync(path, Buffer.alloc(Math.max(0, free - leave)));
  return path;
}

function metric(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

describe('storage full (SQLite on an 8 MiB tmpfs)', () => {
  const mount = mountTmpfs();
  const skipReason = 'reason' in mount ? `storage-full test NOT RUN: ${mount.reason}` : null;
  let stack: Stack;
  let account: TestAccount;
  const logs: string[] = [];

  before(async () => {
    if (!('dir' in mount)) return;
    stack = await startStack({
      store: 'sqlite',
      databaseUrl: () => join(mount.dir, 'harepost.db'),
      logger: capturedLogger(logs),
      env: { HAREPOST_LEASE_MARGIN_MS: '1000' },
    });
    account = await stack.createAccount();
    await stack.verifyDomain(account.live_key, 'example.test');
  });

  after(async () => {
    if (!('dir' in mount)) return;
    await stack?.close();
    unmount(mount.dir);
  });

  it('503 storage_unavailable while the disk is full, everything back without a restart once it is freed', async (t) => {
    if (skipReason !== null) {
      console.warn(`\n*** ${skipReason} ***\n`);
      if (process.env.CI === 'true') assert.fail(`${skipReason} (CI=true: this fault must be tested; run the suite as root)`);
      t.skip(skipReason);
      return;
    }
    const dir = (mount as { dir: string }).dir;
    const send = (i: number) =>
      stack.api('POST', '/v1/send', {
        key: account.live_key,
        body: { target: stack.target(`/full/${i}`), body: BODY, idempotency_key: `full-${i}` },
      });
    const accepted: string[] = [];
    const unavailable: Array<{ status: number; code: string; retryAfter: unknown; message: string }> = [];
    const otherFailures: string[] = [];
    const record = (i: number, r: Awaited<ReturnType<typeof send>>) => {
      if (r.status === 202) accepted.push(r.body.queue_id);
      else if (r.status === 503) {
        unavailable.push({ status: r.status, code: r.body?.error?.code, retryAfter: r.headers['retry-after'], message: r.body?.error?.message });
      } else otherFailures.push(`send ${i}: ${r.status} ${r.text.slice(0, 200)}`);
    };

    const filler = fill(dir, LEAVE_FREE);
    let i = 0;
    // until the disk is full, and then some: 20 503s in a row
    for (let inARow = 0; inARow < 20 && i < 400; i++) {
      const r = await send(i);
      record(i, r);
      inARow = r.status === 503 ? inARow + 1 : 0;
    }
    const acceptedWhileFilling = accepted.length;
    console.log(`disk full: ${acceptedWhileFilling} sends accepted, then ${unavailable.length} answered 503 (${i} sent)`);
    assert.deepEqual(otherFailures, [], 'only 202 and 503 while the disk fills');
    assert.ok(acceptedWhileFilling > 0, 'some sends fit before the disk was full');
    assert.ok(unavailable.length >= 20, 'the full disk was reached');
    for (const u of unavailable) {
      assert.equal(u.code, 'storage_unavailable');
      assert.match(String(u.retryAfter), /^[1-9][0-9]*$/);
      assert.match(u.message, /out of disk space; retry later/);
      assert.doesNotMatch(u.message, new RegExp(dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    }

    const readyWhileFull = await stack.api('GET', '/readyz');
    assert.equal(readyWhileFull.status, 503, '/readyz is 503 while the disk is full');
    assert.equal((await stack.api('GET', '/healthz')).status, 200, 'the process itself is alive');
    const scraped = (await stack.api('GET', '/metrics')).text;
    const counted = metric(scraped, 'harepost_store_errors_total', 'kind="disk_full"');
    assert.ok(counted >= unavailable.length, `harepost_store_errors_total{kind="disk_full"} is ${counted}, ${unavailable.length} sends failed`);
    assert.equal(metric(scraped, 'harepost_store_errors_total', 'kind="io_error"'), 0);
    const failingLines = () => logs.filter((l) => l.includes('storage failing'));
    assert.equal(failingLines().length, 1, `one log line for the change of state, not one per request:\n${failingLines().join('')}`);
    assert.match(failingLines()[0]!, /"kind":"disk_full"/);

    // free the disk: no restart
    rmSync(filler);
    let back = false;
    for (let tries = 0; tries < 50 && !back; tries++, i++) {
      const r = await send(i);
      record(i, r);
      back = r.status === 202;
      if (!back) await sleep(100);
    }
    assert.ok(back, 'sends are accepted again once the disk has room');
    // traffic goes on: a send committed a moment after the last fault turns the state healthy
    await waitFor(
      async () => {
        const n = i++;
        const r = await send(n);
        assert.equal(r.status, 202, `send after the disk was freed: ${r.text.slice(0, 200)}`);
        record(n, r);
        return (await stack.api('GET', '/readyz')).status === 200;
      },
      { timeoutMs: 10_000, intervalMs: 100, message: '/readyz back to 200' },
    );
    assert.deepEqual(otherFailures, []);
    assert.equal(logs.filter((l) => l.includes('storage healthy again')).length, 1, 'one log line when the store is healthy again');
    assert.equal(failingLines().length, 1, 'still that one failing line');

    // every 202 is delivered
    const arrived = () => new Set(stack.receiver.requests.map((r) => r.headers['x-harepost-queue-id']));
    await waitFor(() => accepted.every((id) => arrived().has(id)), {
      timeoutMs: 30_000,
      message: `not every accepted send was delivered (${accepted.filter((id) => !arrived().has(id)).length} missing)`,
    });
    const attempts = stack.receiver.requests.length;
    console.log(
      `after freeing the disk: ${accepted.length} accepted in all, ${arrived().size} delivered, ` +
        `${attempts - arrived().size} repeated (attempts whose result could not be recorded on the full disk)`,
    );
  });
});
