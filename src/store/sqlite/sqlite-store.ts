/**
 * The embedded store: one SQLite file (WAL) through better-sqlite3. This class keeps the store's
 * own life — opening the database (WAL, with the fdatasync of wal-sync.ts for new sends),
 * migrations, readiness, pressure and closing — and is made of one object per area, each in its
 * area's folder (`<area>/sqlite.ts`), whose methods it takes on (compose.ts). The hot path (the
 * group commits of sends and results, claims, the WAL flush) is the delivery queue's:
 * queue/sqlite.ts. Every area prepares its statements on first use, once migrate() has made the
 * tables (connection.ts).
 */
import Database from 'better-sqlite3';
import type { Database as Db } from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { assignAreas, methodsOf } from '../compose.js';
import type {
  AccountsStore,
  AreaStores,
  DashboardStore,
  DeliveryQueueStore,
  DestinationsStore,
  DomainsStore,
  EventsStore,
  HistoryStore,
  SigningSecretsStore,
  Store,
  StorePressure,
  UpkeepStore,
} from '../store.js';
import type { Row } from '../rows.js';
import { ACCOUNTS_STORE_METHODS } from '../accounts/types.js';
import { DASHBOARD_STORE_METHODS } from '../dashboard/types.js';
import { DESTINATIONS_STORE_METHODS } from '../destinations/types.js';
import { DOMAINS_STORE_METHODS } from '../domains/types.js';
import { EVENTS_STORE_METHODS } from '../events/types.js';
import { HISTORY_STORE_METHODS } from '../history/types.js';
import { DELIVERY_QUEUE_STORE_METHODS } from '../queue/types.js';
import { SIGNING_SECRETS_STORE_METHODS } from '../secrets/types.js';
import { UPKEEP_STORE_METHODS } from '../upkeep/types.js';
import { SqliteAccounts } from '../accounts/sqlite.js';
import { SqliteDashboard } from '../dashboard/sqlite.js';
import { SqliteDestinations } from '../destinations/sqlite.js';
import { SqliteDomains } from '../domains/sqlite.js';
import { SqliteEvents } from '../events/sqlite.js';
import { SqliteHistory } from '../history/sqlite.js';
import { SqliteDeliveryQueue } from '../queue/sqlite.js';
import { SqliteSigningSecrets } from '../secrets/sqlite.js';
import { SqliteUpkeep } from '../upkeep/sqlite.js';
import { SqliteConnection } from './connection.js';
import { SqliteLimits } from './limits.js';
import { SQLITE_MIGRATIONS } from './migrations.js';
import { type FileDataSync, SharedSync, type SyncFn, fileDataSync } from './wal-sync.js';

export interface SqliteStoreOptions {
  /**
   * Makes the WAL durable (default: fdatasync of `<path>-wal`; unused where the database is not in
   * WAL mode). Tests pass their own to see that nobody is answered before it settles.
   */
  walSync?: SyncFn;
  /** The same on the calling thread, for big batches (default: fdatasync of `<path>-wal`). */
  walSyncNow?: () => void;
}

// The areas' methods, copied onto the store in its constructor (assignAreas), typed by this merge.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface SqliteStore extends AreaStores {}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly db: Db;
  private readonly conn: SqliteConnection;
  private readonly queue: SqliteDeliveryQueue;
  private readonly walFile: FileDataSync | null;
  private closed = false;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    const journal = this.db.pragma('journal_mode = WAL', { simple: true });
    this.walFile = journal === 'wal' ? fileDataSync(`${path}-wal`) : null;
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.conn = new SqliteConnection(this.db);

    const conn = this.conn;
    const limits = new SqliteLimits(conn);
    const events = new SqliteEvents(conn);
    this.queue = new SqliteDeliveryQueue(conn, {
      durable: this.walFile ? new SharedSync(options.walSync ?? this.walFile.sync) : null,
      flushNow: options.walSyncNow ?? this.walFile?.syncNow ?? (() => undefined),
      limits,
      events,
    });
    /** Wakes dispatchers: work may be due now (what is due, they look up themselves). */
    const wake = () => this.queue.wake(null);
    // each typed by its interface: a spread keeps an interface's methods (a class instance's it drops)
    const accounts = methodsOf<AccountsStore>(new SqliteAccounts(conn, limits, wake), ACCOUNTS_STORE_METHODS);
    const domains = methodsOf<DomainsStore>(new SqliteDomains(conn, limits), DOMAINS_STORE_METHODS);
    const secrets = methodsOf<SigningSecretsStore>(new SqliteSigningSecrets(conn), SIGNING_SECRETS_STORE_METHODS);
    const destinations = methodsOf<DestinationsStore>(new SqliteDestinations(conn, limits, wake), DESTINATIONS_STORE_METHODS);
    const eventReads = methodsOf<EventsStore>(events, EVENTS_STORE_METHODS);
    const queue = methodsOf<DeliveryQueueStore>(this.queue, DELIVERY_QUEUE_STORE_METHODS);
    const history = methodsOf<HistoryStore>(new SqliteHistory(conn, limits, wake), HISTORY_STORE_METHODS);
    const dashboard = methodsOf<DashboardStore>(new SqliteDashboard(conn), DASHBOARD_STORE_METHODS);
    const upkeep = methodsOf<UpkeepStore>(new SqliteUpkeep(conn), UPKEEP_STORE_METHODS);
    // every area, or this does not compile (the object is only checked, never used)
    const _allAreas: AreaStores = { ...accounts, ...domains, ...secrets, ...destinations, ...eventReads, ...queue, ...history, ...dashboard, ...upkeep };
    // one by one: a method given by two areas, or by the store itself, throws here
    assignAreas(this, accounts, domains, secrets, destinations, eventReads, queue, history, dashboard, upkeep);
  }

  async migrate(): Promise<void> {
    this.db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
    const apply = this.db.transaction(() => {
      const done = new Set(
        (this.db.prepare('SELECT version FROM schema_migrations').all() as Row[]).map((r) => r.version as number),
      );
      for (const m of SQLITE_MIGRATIONS) {
        if (done.has(m.version)) continue;
        this.db.exec(m.sql);
        this.db
          .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
          .run(m.version, m.name, Date.now());
      }
    });
    apply.immediate();
    this.conn.migrated = true;
  }

  async ready(): Promise<boolean> {
    if (this.closed) return false;
    try {
      const row = this.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as Row | undefined;
      const latest = SQLITE_MIGRATIONS[SQLITE_MIGRATIONS.length - 1]!.version;
      return row?.v === latest;
    } catch {
      return false;
    }
  }

  pressure(): StorePressure {
    return { commitQueue: this.queue.depth, poolWaiting: 0 };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue.drain();
    this.closed = true;
    this.db.close();
    this.walFile?.close();
  }
}
