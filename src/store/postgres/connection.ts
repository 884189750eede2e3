/**
 * PostgreSQL connections: a pool for queries, a dedicated client that LISTENs for new work, the
 * optional `schema` URL parameter (each test run uses its own), and the mapping of "cannot reach
 * the database" errors to StoreUnavailableError.
 */
import pg from 'pg';
import { storageFaultKind } from '../storage-faults.js';
import { type Lane, StoreUnavailableError, UnstorableInputError } from '../store.js';
import { decodeLanes } from '../work-lanes.js';

// BIGINT columns hold epoch milliseconds and sequence numbers: well inside 2^53.
pg.types.setTypeParser(20, (v) => Number.parseInt(v, 10));

export const WORK_CHANNEL = 'harepost_work';

export interface PgSettings {
  /** Connection string without Harepost's own parameters. */
  connectionString: string;
  schema: string | null;
  poolSize: number;
}

/** `postgres://…?schema=name&pool=16`: schema and pool are Harepost's; the rest goes to pg. */
export function parsePgUrl(url: string): PgSettings {
  const u = new URL(url);
  const schema = u.searchParams.get('schema');
  const pool = u.searchParams.get('pool');
  u.searchParams.delete('schema');
  u.searchParams.delete('pool');
  if (schema !== null && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new Error('the schema parameter must be a lower-case SQL identifier (letters, digits, _)');
  }
  const poolSize = pool === null ? 16 : Number(pool);
  if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 500) throw new Error('pool must be 1 to 500');
  return { connectionString: u.toString(), schema, poolSize };
}

/**
 * Lost or refused connections: the caller is told `database_unavailable`. Not here: a server that
 * answers but refuses new connections because it is starting up, shutting down or in recovery
 * (57P03 cannot_connect_now) — a state of the store, classified in storage-faults.ts like a full
 * disk or a read-only server (503 storage_unavailable, counted, /readyz 503 while it lasts).
 */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  // this connection was ended by the server; the next one may work (pg_terminate_backend, a
  // failover) or, if the server is going away, is refused or answered 57P03 (a storage fault)
  '57P01', // admin_shutdown: "terminating connection due to administrator command"
  '57P02', // crash_shutdown: another backend crashed; crash recovery follows (57P03 → recovery)
  '57P04', // database_dropped: "terminating connection because the database was dropped"
  '57P05', // idle_session_timeout: an idle pooled connection was closed
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);

export function isUnreachable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (e?.code && UNREACHABLE.has(e.code)) return true;
  const m = e?.message ?? '';
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable/i.test(m);
}

/** Runs `fn`, turning "cannot reach the database" into StoreUnavailableError. */
export async function reachable<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    // a server refusing connections while it starts, stops or recovers is a storage fault (53xxx,
    // 25006, 57P03 …): it goes up unchanged to be classified, never as "unreachable"
    if (storageFaultKind(err) === null && isUnreachable(err)) throw new StoreUnavailableError((err as { code?: string }).code ?? (err as Error).message);
    // 22021: a byte sequence PostgreSQL text cannot hold (NUL); 22P05: untranslatable character
    const code = (err as { code?: string }).code;
    if (code === '22021' || code === '22P05') throw new UnstorableInputError();
    throw err;
  }
}

/**
 * A pool on the settings' schema. `relaxed`: its commits do not wait for the WAL flush
 * (synchronous_commit off) — for the dispatcher's bookkeeping, whose loss in a crash of the
 * database server only means an attempt is made again.
 */
export function createPool(settings: PgSettings, opts: { relaxed?: boolean; max?: number } = {}): pg.Pool {
  const options = [
    ...(settings.schema ? [`-c search_path=${settings.schema}`] : []),
    ...(opts.relaxed ? ['-c synchronous_commit=off'] : []),
  ].join(' ');
  const pool = new pg.Pool({
    connectionString: settings.connectionString,
    max: opts.max ?? settings.poolSize,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    ...(options ? { options } : {}),
  });
  // A client losing its connection, idle or busy, must not take the process down: the query in
  // progress fails (StoreUnavailableError) and the pool makes a new connection for the next one.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return pool;
}

/**
 * Listens for NOTIFYs on the work channel with its own connection, reconnecting with backoff.
 * `onWork(null)` after a reconnect: notifications may have been missed meanwhile.
 */
export class WorkListener {
  private client: pg.Client | null = null;
  private stopped = false;
  private retryMs = 250;
  /** The connect under way, if any: stop() waits for it so that it cannot outlive the stop. */
  private connecting: Promise<void> | null = null;

  constructor(
    private readonly settings: PgSettings,
    private readonly onWork: (lanes: Lane[] | null) => void,
    private readonly channel: string = WORK_CHANNEL,
  ) {}

  start(): void {
    this.connectOnce();
  }

  private connectOnce(): void {
    if (this.stopped) return;
    const attempt = this.connect().finally(() => {
      if (this.connecting === attempt) this.connecting = null;
    });
    this.connecting = attempt;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.settings.connectionString, connectionTimeoutMillis: 5000 });
    client.on('error', () => undefined);
    client.on('end', () => {
      if (this.client !== client) return; // a failed connect schedules its own retry
      this.client = null;
      this.retry();
    });
    client.on('notification', (n) => {
      if (n.channel !== this.channel) return;
      this.onWork(decodeLanes(n.payload));
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
      if (this.stopped) {
        // stopped while connecting (a short-lived process): this connection must not keep it alive
        await client.end().catch(() => undefined);
        return;
      }
      this.client = client;
      this.retryMs = 250;
      this.onWork(null);
    } catch {
      client.end().catch(() => undefined);
      this.retry();
    }
  }

  private retry(): void {
    if (this.stopped) return;
    setTimeout(() => this.connectOnce(), this.retryMs).unref();
    this.retryMs = Math.min(this.retryMs * 2, 5000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.connecting;
    await this.client?.end().catch(() => undefined);
  }
}
