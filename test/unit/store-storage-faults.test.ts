/**
 * Storage faults: both stores' error codes are classified into one StorageFaultError kind (real
 * SQLite errors where SQLite can be made to raise them, pg's DatabaseError with PostgreSQL's
 * SQLSTATEs otherwise); StorageHealth logs one line per change of state and counts every fault;
 * a watched store turns what its methods throw into StorageFaultError and leaves the rest alone.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import {
  StorageFaultError,
  StorageHealth,
  asStorageFault,
  storageFaultKind,
  storageHealthOf,
  watchStorageFaults,
} from '../../src/store/storage-faults.js';

/** What better-sqlite3 throws when `fn` runs, on a database of its own. */
function sqliteError(setup: (db: Database.Database, dir: string) => void): unknown {
  const dir = mkdtempSync(join(tmpdir(), 'harepost-faults-'));
  try {
    const db = new Database(join(dir, 'x.db'));
    try {
      setup(db, dir);
    } catch (err) {
      return err;
    } finally {
      db.close();
    }
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function pgError(code: string, message: string): Error {
  const e = new pg.DatabaseError(message, message.length, 'error');
  e.code = code;
  return e;
}

function errnoError(code: string): Error {
  return Object.assign(new Error(`${code}: something, fdatasync`), { code, errno: -1, syscall: 'fdatasync' });
}

describe('storageFaultKind', () => {
  it('SQLite: a database past its size is disk_full (a real SQLITE_FULL)', () => {
    const err = sqliteError((db) => {
      db.exec('CREATE TABLE t (b BLOB)');
      db.pragma('max_page_count = 3');
      db.prepare('INSERT INTO t VALUES (?)').run(Buffer.alloc(64 * 1024));
    });
    assert.equal((err as { code?: string }).code, 'SQLITE_FULL');
    assert.equal(storageFaultKind(err), 'disk_full');
  });

  it('SQLite: a read-only database is read_only (a real SQLITE_READONLY)', () => {
    const err = sqliteError((db, dir) => {
      db.exec('CREATE TABLE t (x)');
      const ro = new Database(join(dir, 'x.db'), { readonly: true });
      try {
        ro.exec('INSERT INTO t VALUES (1)');
      } finally {
        ro.close();
      }
    });
    assert.equal((err as { code?: string }).code, 'SQLITE_READONLY');
    assert.equal(storageFaultKind(err), 'read_only');
  });

  it('SQLite: every extended I/O error is io_error; out of memory is out_of_memory', () => {
    for (const code of ['SQLITE_IOERR', 'SQLITE_IOERR_WRITE', 'SQLITE_IOERR_FSYNC', 'SQLITE_IOERR_SHORT_READ']) {
      assert.equal(storageFaultKind(Object.assign(new Error('disk I/O error'), { code })), 'io_error', code);
    }
    assert.equal(storageFaultKind(Object.assign(new Error('out of memory'), { code: 'SQLITE_NOMEM' })), 'out_of_memory');
    assert.equal(storageFaultKind(Object.assign(new Error('x'), { code: 'SQLITE_READONLY_DBMOVED' })), 'read_only');
  });

  it('the WAL fdatasync path: ENOSPC and EDQUOT are disk_full, EIO io_error, EROFS read_only', () => {
    assert.equal(storageFaultKind(errnoError('ENOSPC')), 'disk_full');
    assert.equal(storageFaultKind(errnoError('EDQUOT')), 'disk_full');
    assert.equal(storageFaultKind(errnoError('EIO')), 'io_error');
    assert.equal(storageFaultKind(errnoError('EROFS')), 'read_only');
    assert.equal(storageFaultKind(errnoError('ENOMEM')), 'out_of_memory');
  });

  it('PostgreSQL: class 53, read-only transactions, recovery and hot-standby conflicts', () => {
    assert.equal(storageFaultKind(pgError('53100', 'could not extend file "base/1/2": No space left on device')), 'disk_full');
    assert.equal(storageFaultKind(pgError('53200', 'out of memory')), 'out_of_memory');
    assert.equal(storageFaultKind(pgError('53300', 'sorry, too many clients already')), 'too_many_connections');
    assert.equal(storageFaultKind(pgError('53000', 'insufficient resources')), 'out_of_memory');
    assert.equal(storageFaultKind(pgError('25006', 'cannot execute INSERT in a read-only transaction')), 'read_only');
    assert.equal(storageFaultKind(pgError('25006', 'cannot execute INSERT during recovery')), 'recovery');
    assert.equal(storageFaultKind(pgError('57P03', 'the database system is in recovery mode')), 'recovery');
    assert.equal(storageFaultKind(pgError('40001', 'canceling statement due to conflict with recovery')), 'recovery');
    assert.equal(storageFaultKind(pgError('58030', 'could not write to file')), 'io_error');
  });

  it('everything else is not a storage fault: constraint violations, serialization failures, lock contention, bugs', () => {
    assert.equal(storageFaultKind(pgError('23505', 'duplicate key value violates unique constraint')), null);
    assert.equal(storageFaultKind(pgError('40001', 'could not serialize access due to concurrent update')), null);
    assert.equal(storageFaultKind(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })), null);
    assert.equal(storageFaultKind(Object.assign(new Error('x'), { code: 'SQLITE_CONSTRAINT_UNIQUE' })), null);
    assert.equal(storageFaultKind(errnoError('ECONNREFUSED')), null);
    assert.equal(storageFaultKind(new TypeError('undefined is not a function')), null);
    assert.equal(storageFaultKind('a string'), null);
    assert.equal(storageFaultKind(null), null);
  });

  it('finds a fault wrapped as the cause of another error', () => {
    assert.equal(storageFaultKind(new Error('commit failed', { cause: errnoError('ENOSPC') })), 'disk_full');
  });
});

describe('StorageFaultError', () => {
  it('says what is wrong in words a caller can act on, with no paths or internals', () => {
    const original = pgError('53100', 'could not extend file "base/16384/2619": No space left on device');
    const fault = asStorageFault(original);
    assert.ok(fault instanceof StorageFaultError);
    assert.equal(fault.kind, 'disk_full');
    assert.equal(fault.message, 'The store is out of disk space; retry later (an Idempotency-Key header makes the retry safe)');
    assert.equal(fault.cause, original);
    assert.equal(asStorageFault(fault), fault);
    const other = new Error('a bug');
    assert.equal(asStorageFault(other), other);
  });
});

function clock() {
  let t = 1000;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

function lines() {
  const out: Array<{ level: 'warn' | 'info'; obj: object; msg: string }> = [];
  return {
    out,
    logger: {
      warn: (obj: object, msg?: string) => out.push({ level: 'warn', obj, msg: msg ?? '' }),
      info: (obj: object, msg?: string) => out.push({ level: 'info', obj, msg: msg ?? '' }),
    },
  };
}

describe('StorageHealth', () => {
  it('one line when failing starts, none per further fault, one when a commit succeeds after it settled', () => {
    const c = clock();
    const log = lines();
    const counted: string[] = [];
    const health = new StorageHealth({ logger: log.logger, now: c.now, settleMs: 1000, holdMs: 30_000 });
    health.onFault((kind) => counted.push(kind));
    assert.equal(health.current(), null);
    for (let i = 0; i < 50; i++) {
      health.failed('disk_full');
      c.advance(10);
    }
    assert.equal(health.current(), 'disk_full');
    assert.equal(counted.length, 50, 'every fault is counted');
    assert.equal(log.out.length, 1);
    assert.equal(log.out[0]!.level, 'warn');
    assert.deepEqual(log.out[0]!.obj, { kind: 'disk_full' });

    health.succeeded(); // too soon after the last fault: the disk may be at its very limit
    assert.equal(health.current(), 'disk_full');
    assert.equal(log.out.length, 1);
    c.advance(1000);
    health.succeeded();
    assert.equal(health.current(), null);
    assert.equal(log.out.length, 2);
    assert.equal(log.out[1]!.level, 'info');
    assert.match(log.out[1]!.msg, /healthy again/);
    health.succeeded();
    assert.equal(log.out.length, 2, 'nothing more while healthy');
  });

  it('a change of kind is a change of state (one more line); a quiet spell past holdMs forgets the fault', () => {
    const c = clock();
    const log = lines();
    const health = new StorageHealth({ logger: log.logger, now: c.now, holdMs: 30_000 });
    health.failed('read_only');
    health.failed('recovery');
    health.failed('recovery');
    assert.equal(log.out.length, 2);
    assert.equal(health.current(), 'recovery');
    c.advance(29_999);
    assert.equal(health.current(), 'recovery');
    c.advance(1);
    assert.equal(health.current(), null, 'no fault for holdMs: ready again');
    assert.equal(log.out.length, 3);
    assert.equal(log.out[2]!.level, 'info');
    assert.equal(health.current(), null);
    assert.equal(log.out.length, 3);
  });
});

describe('watchStorageFaults', () => {
  class FakeStore {
    readonly kind = 'sqlite' as const;
    failWith: unknown = null;
    private secret = 'kept';
    async enqueueDeliveries(): Promise<string> {
      if (this.failWith) throw this.failWith;
      return this.secret;
    }
    async recordAttempts(): Promise<void> {
      if (this.failWith) throw this.failWith;
    }
    syncThrow(): number {
      if (this.failWith) throw this.failWith;
      return 7;
    }
  }

  it('rejects with StorageFaultError for faults, passes other errors through, and a successful commit clears the state', async () => {
    const c = clock();
    const log = lines();
    const health = new StorageHealth({ logger: log.logger, now: c.now });
    const inner = new FakeStore();
    const store = watchStorageFaults(inner, health);
    assert.equal(storageHealthOf(store), health);
    assert.equal(store.kind, 'sqlite');
    assert.equal(await store.enqueueDeliveries(), 'kept', 'methods run on the store itself');

    inner.failWith = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    await assert.rejects(store.enqueueDeliveries(), (e: unknown) => e instanceof StorageFaultError && e.kind === 'disk_full');
    await assert.rejects(store.recordAttempts(), StorageFaultError);
    assert.throws(() => store.syncThrow(), StorageFaultError);
    assert.equal(health.current(), 'disk_full');

    const bug = new TypeError('a bug');
    inner.failWith = bug;
    await assert.rejects(store.enqueueDeliveries(), (e: unknown) => e === bug);

    inner.failWith = null;
    c.advance(5000);
    await store.recordAttempts();
    assert.equal(health.current(), 'disk_full', "the dispatcher's small writes do not clear it");
    assert.equal(store.syncThrow(), 7);
    await store.enqueueDeliveries();
    assert.equal(health.current(), null);
    assert.deepEqual(
      log.out.map((l) => l.level),
      ['warn', 'info'],
    );
  });
});
