/**
 * Storage faults: the store's disk is full, failing, out of memory or connections, or refuses
 * writes (read-only, in recovery). Each backend's error codes are classified here into one
 * StorageFaultError with a `kind`, so the API only maps it (503 storage_unavailable) and never
 * answers a bare 500; a StorageHealth keeps the state readiness and the operator are told about.
 */

export const STORAGE_FAULT_KINDS = [
  'disk_full',
  'io_error',
  'out_of_memory',
  'too_many_connections',
  'read_only',
  'recovery',
  'starting_up',
  'shutting_down',
] as const;
export type StorageFaultKind = (typeof STORAGE_FAULT_KINDS)[number];

/** What each kind means, in words a caller can act on: no paths, no internals beyond the kind. */
const DESCRIPTIONS: Record<StorageFaultKind, string> = {
  disk_full: 'The store is out of disk space',
  io_error: 'The store cannot read or write its disk',
  out_of_memory: 'The store is out of memory',
  too_many_connections: 'The store has no free connections',
  read_only: 'The store is read-only',
  recovery: 'The store is in recovery and not taking writes',
  starting_up: 'The store is starting up and not taking connections yet',
  shutting_down: 'The store is shutting down and not taking new connections',
};

/** How long callers are told to wait before retrying (Retry-After), in seconds. */
export const STORAGE_RETRY_AFTER_SECONDS = 5;

export function storageFaultMessage(kind: StorageFaultKind): string {
  return `${DESCRIPTIONS[kind]}; retry later (an Idempotency-Key header makes the retry safe)`;
}

/** The store cannot do what was asked because of a storage fault; nothing of the call was acknowledged. */
export class StorageFaultError extends Error {
  constructor(
    readonly kind: StorageFaultKind,
    options?: { cause?: unknown },
  ) {
    super(storageFaultMessage(kind), options);
    this.name = 'StorageFaultError';
  }
}

/** SQLite result codes (better-sqlite3's `code`: SQLITE_FULL, SQLITE_IOERR_WRITE, …). */
function sqliteKind(code: string): StorageFaultKind | null {
  if (code === 'SQLITE_FULL') return 'disk_full';
  if (code === 'SQLITE_NOMEM' || code === 'SQLITE_IOERR_NOMEM') return 'out_of_memory';
  if (code === 'SQLITE_IOERR' || code.startsWith('SQLITE_IOERR_')) return 'io_error';
  if (code === 'SQLITE_READONLY' || code.startsWith('SQLITE_READONLY_')) return 'read_only';
  return null;
}

/** errno codes of file-system calls (the WAL's fdatasync, opening the WAL). */
const ERRNO_KINDS: Record<string, StorageFaultKind> = {
  ENOSPC: 'disk_full',
  EDQUOT: 'disk_full',
  EIO: 'io_error',
  EROFS: 'read_only',
  ENOMEM: 'out_of_memory',
};

/** PostgreSQL SQLSTATEs: class 53 (insufficient resources), read-only transactions, recovery. */
function postgresKind(code: string, message: string): StorageFaultKind | null {
  switch (code) {
    case '53100': // disk_full
      return 'disk_full';
    case '53200': // out_of_memory
      return 'out_of_memory';
    case '53300': // too_many_connections
    case '53400': // configuration_limit_exceeded
      return 'too_many_connections';
    case '25006': // read_only_sql_transaction (also "cannot execute … during recovery" on a hot standby)
      return /recovery/i.test(message) ? 'recovery' : 'read_only';
    case '57P03': // cannot_connect_now: the server refuses every new connection for now
      // "the database system is starting up" / "is shutting down"; "is in recovery mode", "is not
      // (yet) accepting connections" (a standby without hot standby, or not consistent yet)
      if (/starting up/i.test(message)) return 'starting_up';
      if (/shutting down/i.test(message)) return 'shutting_down';
      return 'recovery';
    case '58030': // io_error
      return 'io_error';
  }
  if (code.startsWith('53')) return 'out_of_memory'; // 53000 insufficient_resources
  // a query cancelled on a hot standby: "canceling statement due to conflict with recovery"
  if (code === '40001' && /conflict with recovery/i.test(message)) return 'recovery';
  return null;
}

/** The storage fault an error is, or null when it is something else (a bug, a constraint, …). */
export function storageFaultKind(err: unknown): StorageFaultKind | null {
  for (let e = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof StorageFaultError) return e.kind;
    const code = (e as { code?: unknown }).code;
    const message = String((e as { message?: unknown }).message ?? '');
    if (typeof code !== 'string') continue;
    if (code.startsWith('SQLITE_')) {
      const kind = sqliteKind(code);
      if (kind) return kind;
      continue;
    }
    const errno = ERRNO_KINDS[code];
    if (errno) return errno;
    if (/^[0-9A-Z]{5}$/.test(code)) {
      const kind = postgresKind(code, message);
      if (kind) return kind;
    }
  }
  return null;
}

/** `err` as a StorageFaultError when it is one (the original kept as `cause`), else unchanged. */
export function asStorageFault(err: unknown): unknown {
  if (err instanceof StorageFaultError) return err;
  const kind = storageFaultKind(err);
  return kind === null ? err : new StorageFaultError(kind, { cause: err });
}

export interface StorageHealthLogger {
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
}

export interface StorageHealthOptions {
  logger: StorageHealthLogger;
  /**
   * How long after the last fault seen readiness stays 503 when no write has succeeded since: a
   * process nobody sends to (its load balancer took it out) is offered traffic again after it,
   * and the next fault takes it out again. Default 30 s.
   */
  holdMs?: number;
  /**
   * A successful commit clears the fault only this long after the last fault seen, so that a
   * disk at its very limit (one send fits, the next does not) is not reported as healthy and
   * failing over and over. Default 1 s.
   */
  settleMs?: number;
  /** A monotonic clock in ms (default performance.now). */
  now?: () => number;
}

/**
 * The store's health as the process last saw it: the last storage fault, cleared by the next
 * commit of new deliveries that succeeds (`settleMs` or more after the last fault), or forgotten
 * after `holdMs` without another fault. Logs one line per change of state (healthy → failing: warn with the kind;
 * failing → healthy: info), never one per request; counts every fault for the listeners (metrics).
 */
export class StorageHealth {
  private fault: { kind: StorageFaultKind; since: number; lastAt: number; count: number } | null = null;
  private readonly listeners: Array<(kind: StorageFaultKind) => void> = [];
  private readonly holdMs: number;
  private readonly settleMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: StorageHealthOptions) {
    this.holdMs = opts.holdMs ?? 30_000;
    this.settleMs = opts.settleMs ?? 1000;
    this.now = opts.now ?? (() => performance.now());
  }

  /** Told of every storage fault seen (e.g. the harepost_store_errors_total counter). */
  onFault(listener: (kind: StorageFaultKind) => void): void {
    this.listeners.push(listener);
  }

  /** A storage fault was seen. */
  failed(kind: StorageFaultKind): void {
    const at = this.now();
    for (const l of this.listeners) {
      try {
        l(kind);
      } catch {
        // a listener's failure never changes what the caller is told
      }
    }
    this.expire(at);
    if (this.fault === null) {
      this.fault = { kind, since: at, lastAt: at, count: 1 };
      this.opts.logger.warn({ kind }, `storage failing: ${DESCRIPTIONS[kind].toLowerCase()}; answering 503 storage_unavailable`);
      return;
    }
    this.fault.lastAt = at;
    this.fault.count++;
    if (this.fault.kind !== kind) {
      this.opts.logger.warn({ kind, was: this.fault.kind }, `storage failing: ${DESCRIPTIONS[kind].toLowerCase()}`);
      this.fault.kind = kind;
    }
  }

  /** A commit of new deliveries succeeded (the group commit): the store takes writes again. */
  succeeded(): void {
    const f = this.fault;
    const at = this.now();
    if (f === null || at - f.lastAt < this.settleMs) return;
    this.fault = null;
    this.opts.logger.info(
      { kind: f.kind, failures: f.count, failing_ms: Math.round(at - f.since) },
      'storage healthy again: writes succeed',
    );
  }

  /** The fault that makes the process not ready right now, or null. */
  current(): StorageFaultKind | null {
    this.expire(this.now());
    return this.fault?.kind ?? null;
  }

  /** No fault seen for holdMs and no write to prove either way: no longer known to be failing. */
  private expire(at: number): void {
    const f = this.fault;
    if (f === null || at - f.lastAt < this.holdMs) return;
    this.fault = null;
    this.opts.logger.info(
      { kind: f.kind, failures: f.count, quiet_ms: Math.round(at - f.lastAt) },
      'storage: no fault seen lately; ready again until the next one',
    );
  }
}

/**
 * The store methods whose success clears a fault: the commits of new sends and events (the group
 * commit), which carry whole bodies. Smaller writes (the dispatcher's bookkeeping, a login token)
 * can still fit on a disk too full for a send, so they would only make the state flap.
 */
const CLEARING_WRITES = new Set<PropertyKey>(['enqueueDeliveries']);

/** The StorageHealth a store made by `watchStorageFaults` reports to (readiness reads it). */
export const STORAGE_HEALTH = Symbol('storageHealth');

/** The StorageHealth behind `store`, when it is watched. */
export function storageHealthOf(store: object): StorageHealth | null {
  return ((store as Record<symbol, unknown>)[STORAGE_HEALTH] as StorageHealth | undefined) ?? null;
}

/**
 * The same store, except that what its methods throw or reject with is classified: a storage
 * fault becomes a StorageFaultError and is reported to `health`; a write that succeeds clears it.
 */
export function watchStorageFaults<S extends object>(store: S, health: StorageHealth): S {
  const wrapped = new Map<PropertyKey, unknown>();
  const fail = (err: unknown): never => {
    const fault = asStorageFault(err);
    if (fault instanceof StorageFaultError) health.failed(fault.kind);
    throw fault;
  };
  const wrap = (name: PropertyKey, fn: (...a: unknown[]) => unknown) =>
    function (this: unknown, ...args: unknown[]): unknown {
      let out: unknown;
      try {
        out = fn.apply(store, args);
      } catch (err) {
        return fail(err);
      }
      if (out instanceof Promise) {
        return out.then((v: unknown) => {
          if (CLEARING_WRITES.has(name)) health.succeeded();
          return v;
        }, fail);
      }
      return out;
    };
  return new Proxy(store, {
    get(target, prop) {
      if (prop === STORAGE_HEALTH) return health;
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      let w = wrapped.get(prop);
      if (w === undefined) {
        w = wrap(prop, value as (...a: unknown[]) => unknown);
        wrapped.set(prop, w);
      }
      return w;
    },
  });
}
