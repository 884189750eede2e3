/**
 * Durable before 202 on the embedded store: new sends and events commit without an fsync on the
 * event loop, and their callers are answered only after the WAL has been synced off it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { SharedSync, fileDataSync } from '../../src/store/sqlite/wal-sync.js';
import { newDelivery } from '../support/new-delivery.js';

const dir = mkdtempSync(join(tmpdir(), 'harepost-durability-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A sync whose runs the test ends by hand. */
function manualSync() {
  const runs: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  const fn = () =>
    new Promise<void>((resolve, reject) => {
      runs.push({ resolve, reject });
    });
  return { fn, runs };
}

const settled = async <T>(p: Promise<T>): Promise<boolean> => {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r)); // a few turns of the loop
  return done;
};

describe('SharedSync', () => {
  it('runs once for a lone caller', async () => {
    const m = manualSync();
    const shared = new SharedSync(m.fn);
    const p = shared.sync();
    assert.equal(m.runs.length, 1);
    assert.equal(await settled(p), false);
    m.runs[0]!.resolve();
    await p;
  });

  it('answers callers that came during a run only after a run that started after them, one run for all', async () => {
    const m = manualSync();
    const shared = new SharedSync(m.fn);
    const first = shared.sync();
    const later = [shared.sync(), shared.sync(), shared.sync()];
    assert.equal(m.runs.length, 1, 'the callers during a run wait; they start nothing yet');
    m.runs[0]!.resolve();
    await first;
    assert.equal(await settled(Promise.all(later)), false, 'the first run may predate their writes');
    assert.equal(m.runs.length, 2, 'one more run covers all three');
    m.runs[1]!.resolve();
    await Promise.all(later);
    assert.equal(m.runs.length, 2);
  });

  it('a failed run fails its callers, and the next call runs again', async () => {
    const m = manualSync();
    const shared = new SharedSync(m.fn);
    const p = shared.sync();
    m.runs[0]!.reject(new Error('EIO'));
    await assert.rejects(p, /EIO/);
    const q = shared.sync();
    assert.equal(m.runs.length, 2);
    m.runs[1]!.resolve();
    await q;
  });
});

describe('fileDataSync', () => {
  it('syncs a file; a failed open is not remembered', async () => {
    const path = join(dir, 'later.bin');
    const f = fileDataSync(path);
    await assert.rejects(f.sync(), /ENOENT/);
    assert.throws(() => f.syncNow(), /ENOENT/);
    writeFileSync(path, 'frames');
    await f.sync();
    f.syncNow();
    await f.sync();
    f.close();
  });
});

const delivery = (n: number) => newDelivery(`hr_durable${n}`, { created_at: 1_000 + n });
const turn = () => new Promise((r) => setImmediate(r));
/** Waits until the manual sync has been started `n` times. */
const runsReach = async (m: ReturnType<typeof manualSync>, n: number) => {
  while (m.runs.length < n) await turn();
};

/** A migrated store on `path` with account acct_a. */
async function openStore(path: string, options: ConstructorParameters<typeof SqliteStore>[1] = {}): Promise<SqliteStore> {
  const store = new SqliteStore(path, options);
  await store.migrate();
  await store.createAccount({ id: 'acct_a', name: 'a', created_at: 1 });
  return store;
}

/** Committed deliveries whose id starts with `prefix`, as another connection sees them. */
function committed(path: string, prefix = 'hr_durable'): number {
  const other = new Database(path, { readonly: true });
  try {
    return other.prepare('SELECT COUNT(*) FROM deliveries WHERE id LIKE ?').pluck().get(`${prefix}%`) as number;
  } finally {
    other.close();
  }
}

/** Closes the store, which waits for a flush after the last commit: the test ends that flush. */
async function closeWith(store: SqliteStore, m: ReturnType<typeof manualSync>): Promise<void> {
  const closing = store.close();
  const n = m.runs.length + 1;
  await runsReach(m, n);
  assert.equal(await settled(closing), false, 'closing waits for a flush after the last commit');
  m.runs[n - 1]!.resolve();
  await closing;
}

describe('SqliteStore: durable before the caller is answered', () => {
  it('commits first, syncs the WAL after, and answers only once the sync is done', async () => {
    const path = join(dir, 'h.db');
    const m = manualSync();
    const store = await openStore(path, { walSync: m.fn });

    const accepted = Promise.all([1, 2, 3].map((n) => store.enqueueDeliveries('acct_a', 'live', [delivery(n)])));
    await runsReach(m, 1);
    // the sync starts after the commit: another connection already sees the rows
    assert.equal(committed(path), 3);
    assert.equal(m.runs.length, 1, 'one group commit, one sync');
    assert.equal(await settled(accepted), false, 'nobody is answered before the WAL is synced');

    m.runs[0]!.resolve();
    await accepted;

    const failing = store.enqueueDeliveries('acct_a', 'live', [delivery(4)]);
    await runsReach(m, 2);
    m.runs[1]!.reject(new Error('EIO: the disk is gone'));
    await assert.rejects(failing, /EIO/, 'a failed sync is an error for its callers, never a silent success');

    await closeWith(store, m);
  });

  it('a batch that comes during a flush commits at once and is answered after the next flush', async () => {
    const path = join(dir, 'pipelined.db');
    const m = manualSync();
    const store = await openStore(path, { walSync: m.fn });

    const first = store.enqueueDeliveries('acct_a', 'live', [delivery(11)]);
    await runsReach(m, 1);
    const second = store.enqueueDeliveries('acct_a', 'live', [delivery(12)]);
    while (committed(path) < 2) await turn(); // committed while the first flush runs
    assert.equal(m.runs.length, 1, 'the second batch waits for the running flush to end before its own');

    m.runs[0]!.resolve();
    await first;
    assert.equal(await settled(second), false, 'the first flush may have started before its commit');
    await runsReach(m, 2);
    m.runs[1]!.resolve();
    await second;

    await closeWith(store, m);
  });

  it('a big batch (a busy loop) is flushed on the loop before its callers are answered, not off it', async () => {
    const path = join(dir, 'big-batch.db');
    const m = manualSync();
    let onLoop = 0;
    let seenAtFlush = -1;
    const store = await openStore(path, {
      walSync: m.fn,
      walSyncNow: () => {
        onLoop++;
        seenAtFlush = committed(path, 'hr_durable2');
      },
    });
    // ten callers in one turn of the loop: one group commit of ten
    await Promise.all(Array.from({ length: 10 }, (_, i) => store.enqueueDeliveries('acct_a', 'live', [delivery(200 + i)])));
    assert.equal(onLoop, 1, 'one flush for the batch');
    assert.equal(seenAtFlush, 10, 'flushed after the commit');
    assert.equal(m.runs.length, 0, 'nothing waited for the thread pool');
    await closeWith(store, m);
  });

  it('a database not in WAL mode (:memory:) commits as it always did and never waits for a WAL', async () => {
    const m = manualSync();
    const store = await openStore(':memory:', { walSync: m.fn });
    await store.enqueueDeliveries('acct_a', 'live', [delivery(7)]);
    assert.equal(m.runs.length, 0);
    assert.equal((await store.countPendingDeliveries()).queued, 1);
    await store.close();
  });

  it('with its own WAL sync (the default) a file store accepts and closes', async () => {
    const store = await openStore(join(dir, 'default.db'));
    await Promise.all([5, 6].map((n) => store.enqueueDeliveries('acct_a', 'live', [delivery(n)])));
    assert.equal((await store.countPendingDeliveries()).queued, 2);
    await store.close();
  });
});
