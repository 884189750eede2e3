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
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
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
import { reachable } from '../../src/store/postgres/connection.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { StoreUnavailableError } from '../../src/store/store.js';

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
    assert.equal(storageFaultKind(pgError('57P03', 'the database system is not accepting connections')), 'recovery', 'a standby without hot standby');
    assert.equal(storageFaultKind(pgError('57P03', 'the database system is not yet accepting connections')), 'recovery');
    assert.equal(storageFaultKind(pgError('57P03', 'the database system is starting up')), 'starting_up');
    assert.equal(storageFaultKind(pgError('57P03', 'the database system is shutting down')), 'shutting_down');
    assert.equal(storageFaultKind(pgError('40001', 'canceling statement due to conflict with recovery')), 'recovery');
    assert.equal(storageFaultKind(pgError('58030', 'could not write to file')), 'io_error');
  });

  it('everything else is not a storage fault: constraint violations, serialization failures, lock contention, bugs', () => {
    assert.equal(storageFaultKind(pgError('23505', 'duplicate key value violates unique constraint')), null);
    assert.equal(storageFaultKind(pgError('40001', 'could not serialize access due to concurrent update')), null);
    assert.equal(storageFaultKind(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })), null);
    assert.equal(storageFaultKind(Object.assign(new Error('x'), { code: 'SQLITE_CONSTRAINT_UNIQUE' })), null);
    assert.equal(storageFaultKind(errnoError('ECONNREFUSED')), null);
    // a connection the server ended (database_unavailable, connection.ts): not a state of the store
    assert.equal(storageFaultKind(pgError('57P01', 'terminating connection due to administrator command')), null);
    assert.equal(storageFaultKind(pgError('57P02', 'terminating connection because of crash of another server process')), null);
    assert.equal(storageFaultKind(pgError('57P04', 'terminating connection because the database was dropped')), null);
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

/** A PostgreSQL ErrorResponse message (protocol 3.0), as the server sends it. */
function errorResponse(severity: 'FATAL' | 'ERROR', code: string, message: string): Buffer {
  const fields = Buffer.concat(
    [['S', severity], ['V', severity], ['C', code], ['M', message]].map(([t, v]) => Buffer.concat([Buffer.from(t!), Buffer.from(`${v}\0`)])),
  );
  const body = Buffer.concat([fields, Buffer.from([0])]);
  const head = Buffer.alloc(5);
  head.write('E', 0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/**
 * A server on loopback speaking PostgreSQL's protocol the way PostgreSQL does in two states:
 * `refuse` — it answers every startup with FATAL `code` (57P03 while starting, stopping or in
 * recovery) and closes; `terminate` — it lets the session start, then ends it at its first query
 * with FATAL `code` (57P01 an administrator's command, 57P02 a crash, 57P04 a dropped database).
 */
async function fakePostgres(mode: 'refuse' | 'terminate', code: string, message: string): Promise<{ url: string; server: Server }> {
  const server = createServer((socket: Socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => {
      if (mode === 'refuse') {
        socket.end(errorResponse('FATAL', code, message));
        return;
      }
      const ok = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]); // AuthenticationOk
      const ready = Buffer.from([0x5a, 0, 0, 0, 5, 0x49]); // ReadyForQuery, idle
      socket.write(Buffer.concat([ok, ready]));
      socket.once('data', () => socket.end(errorResponse('FATAL', code, message)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  // credentials in the URL: they must never reach a caller or a log line
  return { url: `postgres://harepost:S3cret-pw@127.0.0.1:${port}/harepost?schema=hp_fault&pool=2`, server };
}

describe('PostgreSQL: a server refusing connections is a storage fault, a server ending one is unreachable', () => {
  const servers: Server[] = [];
  const stores: PostgresStore[] = [];
  after(async () => {
    await Promise.all(stores.map((s) => s.close().catch(() => undefined)));
    for (const s of servers) s.close();
  });

  /** A watched PostgresStore on a fake server: what a call rejects with, what health and the log saw. */
  async function callThrough(mode: 'refuse' | 'terminate', code: string, message: string) {
    const { url, server } = await fakePostgres(mode, code, message);
    servers.push(server);
    const inner = new PostgresStore(url);
    stores.push(inner);
    const log = lines();
    const health = new StorageHealth({ logger: log.logger });
    const counted: string[] = [];
    health.onFault((kind) => counted.push(kind));
    const store = watchStorageFaults(inner, health);
    const err = await store.getAccount('acct_x').then(
      () => assert.fail('the call succeeded'),
      (e: unknown) => e,
    );
    return { err, health, counted, log };
  }

  const secretFree = (text: string) => {
    for (const s of ['S3cret', 'harepost:', 'postgres://', '127.0.0.1']) assert.ok(!text.includes(s), `"${text}" holds ${s}`);
  };

  for (const [message, kind, words] of [
    ['the database system is not accepting connections', 'recovery', 'The store is in recovery and not taking writes'],
    ['the database system is in recovery mode', 'recovery', 'The store is in recovery and not taking writes'],
    ['the database system is starting up', 'starting_up', 'The store is starting up and not taking connections yet'],
    ['the database system is shutting down', 'shutting_down', 'The store is shutting down and not taking new connections'],
  ] as const) {
    it(`57P03 "${message}" on connect: StorageFaultError ${kind} (503 storage_unavailable), counted, not ready`, async () => {
      const { err, health, counted, log } = await callThrough('refuse', '57P03', message);
      assert.ok(err instanceof StorageFaultError, `a StorageFaultError, not ${String(err)}`);
      assert.equal(err.kind, kind);
      assert.equal(err.message, `${words}; retry later (an Idempotency-Key header makes the retry safe)`);
      assert.equal((err.cause as { code?: string }).code, '57P03', "pg's own error is kept as the cause");
      secretFree(err.message);
      assert.equal(health.current(), kind, '/readyz answers 503 while it lasts');
      assert.deepEqual(counted, [kind], 'harepost_store_errors_total{kind} counts it');
      assert.equal(log.out.length, 1);
      secretFree(`${log.out[0]!.msg} ${JSON.stringify(log.out[0]!.obj)}`);
    });
  }

  for (const [code, message] of [
    ['57P01', 'terminating connection due to administrator command'],
    ['57P02', 'terminating connection because of crash of another server process'],
    ['57P04', 'terminating connection because the database was dropped'],
    ['57P05', 'terminating connection due to idle-session timeout'],
  ] as const) {
    it(`${code} "${message}" mid-session: StoreUnavailableError (503 database_unavailable), not a storage fault`, async () => {
      const { err, health, counted } = await callThrough('terminate', code, message);
      assert.ok(err instanceof StoreUnavailableError, `a StoreUnavailableError, not ${String(err)}`);
      assert.equal(err.message, `the database is unreachable (${code})`);
      assert.equal(health.current(), null);
      assert.deepEqual(counted, []);
    });
  }

  it('a refused connection stays unreachable (database_unavailable); reachable() lets every storage fault through unchanged', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    await assert.rejects(reachable(() => Promise.reject(refused)), (e: unknown) => e instanceof StoreUnavailableError && e.message === 'the database is unreachable (ECONNREFUSED)');
    for (const [code, message] of [
      ['57P03', 'the database system is in recovery mode'],
      ['25006', 'cannot execute INSERT in a read-only transaction'],
      ['53300', 'sorry, too many clients already'],
    ] as const) {
      const original = pgError(code, message);
      await assert.rejects(reachable(() => Promise.reject(original)), (e: unknown) => e === original, code);
    }
  });
});
