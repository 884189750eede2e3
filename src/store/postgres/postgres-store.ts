/**
 * The PostgreSQL store, for many Harepost processes on one database. This class keeps the store's
 * own life: the two pools (the relaxed one for the dispatcher's bookkeeping), the transaction
 * helper, the clock choice, migrations, readiness, pressure and closing. Everything else is an
 * area beside its interface (`<area>/postgres.ts`; the delivery queue, the hot path, in
 * queue/postgres.ts and its parts), each built here in the constructor and its methods copied on
 * (compose.ts). The dispatchers are woken through PgWakeUps (wake-ups.ts): LISTEN/NOTIFY between
 * processes, an EventEmitter within this one.
 */
import type pg from 'pg';
import { assignAreas, methodsOf } from '../compose.js';
import type { Row } from '../rows.js';
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
import { ACCOUNTS_STORE_METHODS } from '../accounts/types.js';
import { PostgresAccounts } from '../accounts/postgres.js';
import { DASHBOARD_STORE_METHODS } from '../dashboard/types.js';
import { PostgresDashboard } from '../dashboard/postgres.js';
import { DESTINATIONS_STORE_METHODS } from '../destinations/types.js';
import { PostgresDestinations } from '../destinations/postgres.js';
import { DOMAINS_STORE_METHODS } from '../domains/types.js';
import { PostgresDomains } from '../domains/postgres.js';
import { EVENTS_STORE_METHODS } from '../events/types.js';
import { PostgresEvents } from '../events/postgres.js';
import { HISTORY_STORE_METHODS } from '../history/types.js';
import { PostgresHistory } from '../history/postgres.js';
import { DELIVERY_QUEUE_STORE_METHODS } from '../queue/types.js';
import { PostgresDeliveryQueue } from '../queue/postgres.js';
import { SIGNING_SECRETS_STORE_METHODS } from '../secrets/types.js';
import { PostgresSigningSecrets } from '../secrets/postgres.js';
import { UPKEEP_STORE_METHODS } from '../upkeep/types.js';
import { PostgresUpkeep } from '../upkeep/postgres.js';
import { type PgSettings, createPool, parsePgUrl, reachable } from './connection.js';
import { POSTGRES_MIGRATIONS } from './migrations.js';
import type { Querier, Transact } from './querier.js';
import type { PgClock } from './clock.js';
import { PgWakeUps } from './wake-ups.js';

const MIGRATION_LOCK = 0x6861_7265; // "hare": one process migrates at a time

// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging -- the areas' methods, copied onto each store by its constructor (compose.ts)
export interface PostgresStore extends AreaStores {}
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- typed by the interface above
export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  private readonly settings: PgSettings;
  private readonly clock: PgClock;
  private readonly pool: pg.Pool;
  /** The dispatcher's bookkeeping: claims, releases, attempt results (see createPool). */
  private readonly workPool: pg.Pool;
  private readonly wakeUps: PgWakeUps;
  /** The delivery queue: its grouped commits are drained, and their depth read, by the store's own life. */
  private readonly queue: PostgresDeliveryQueue;
  private closed = false;

  /**
   * @param options.clock whose clock shared times are compared on (clock.ts): the database's, or
   *   (tests that drive time by hand, one process) the caller's `now`
   */
  constructor(url: string, options: { clock?: PgClock } = {}) {
    this.clock = options.clock ?? 'database';
    this.settings = parsePgUrl(url);
    this.pool = createPool(this.settings);
    this.workPool = createPool(this.settings, { relaxed: true, max: Math.max(2, Math.ceil(this.settings.poolSize / 2)) });
    this.wakeUps = new PgWakeUps(this.settings, this.q);

    const { q, work, clock } = this;
    const tx: Transact = (fn) => this.tx(fn);
    const workTx: Transact = (fn) => this.tx(fn, true);
    /** Work may be due, for any lane, in every process: a resumed account's, a re-enabled destination's, a replay's. */
    const wake = () => this.wakeUps.notify(null);
    this.queue = new PostgresDeliveryQueue(q, tx, work, workTx, clock, this.wakeUps);

    const accounts = methodsOf<AccountsStore>(new PostgresAccounts(q, tx, wake), ACCOUNTS_STORE_METHODS);
    const domains = methodsOf<DomainsStore>(new PostgresDomains(q, tx), DOMAINS_STORE_METHODS);
    const secrets = methodsOf<SigningSecretsStore>(new PostgresSigningSecrets(q, tx, clock), SIGNING_SECRETS_STORE_METHODS);
    const destinations = methodsOf<DestinationsStore>(new PostgresDestinations(q, tx, wake, clock), DESTINATIONS_STORE_METHODS);
    const events = methodsOf<EventsStore>(new PostgresEvents(q), EVENTS_STORE_METHODS);
    const queue = methodsOf<DeliveryQueueStore>(this.queue, DELIVERY_QUEUE_STORE_METHODS);
    const history = methodsOf<HistoryStore>(new PostgresHistory(q, tx, wake, clock), HISTORY_STORE_METHODS);
    const dashboard = methodsOf<DashboardStore>(new PostgresDashboard(q, tx, clock), DASHBOARD_STORE_METHODS);
    const upkeep = methodsOf<UpkeepStore>(new PostgresUpkeep(q, tx, clock), UPKEEP_STORE_METHODS);
    // every area, or this does not compile (the object is only checked, never used)
    const _allAreas: AreaStores = { ...accounts, ...domains, ...secrets, ...destinations, ...events, ...queue, ...history, ...dashboard, ...upkeep };
    // one by one: a method given by two areas, or by the store itself, throws here
    assignAreas(this, accounts, domains, secrets, destinations, events, queue, history, dashboard, upkeep);
  }

  /** One query on the pool. */
  private q: Querier = (text, params) => reachable(async () => (await this.pool.query(text, params)).rows as Row[]);

  /** Bookkeeping statement on the relaxed pool. */
  private work: Querier = (text, params) =>
    reachable(async () => (await this.workPool.query(text, params)).rows as Row[]);

  /** A transaction on one pooled connection; `relaxed` runs it on the bookkeeping pool. */
  private tx<T>(fn: (q: Querier) => Promise<T>, relaxed = false): Promise<T> {
    return reachable(async () => {
      const client = await (relaxed ? this.workPool : this.pool).connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const out = await fn(async (text, params) => (await client.query(text, params)).rows as Row[]);
        await client.query('COMMIT');
        return out;
      } catch (err) {
        await client.query('ROLLBACK').catch((e: Error) => (broken = e));
        throw err;
      } finally {
        client.release(broken);
      }
    });
  }

  async migrate(): Promise<void> {
    await reachable(async () => {
      const client = await this.pool.connect();
      try {
        // the lock first: CREATE SCHEMA IF NOT EXISTS itself races between sessions
        await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
        try {
          if (this.settings.schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.settings.schema}`);
          await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
          const done = new Set(
            (await client.query('SELECT version FROM schema_migrations')).rows.map((r: Row) => r.version as number),
          );
          for (const m of POSTGRES_MIGRATIONS) {
            if (done.has(m.version)) continue;
            await client.query('BEGIN');
            try {
              await client.query(m.sql);
              await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
                m.version,
                m.name,
                Date.now(),
              ]);
              await client.query('COMMIT');
            } catch (err) {
              await client.query('ROLLBACK');
              throw err;
            }
          }
        } finally {
          await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
        }
      } finally {
        client.release();
      }
    });
  }

  async ready(): Promise<boolean> {
    if (this.closed) return false;
    try {
      const rows = await this.q('SELECT MAX(version) AS v FROM schema_migrations');
      return rows[0]?.v === POSTGRES_MIGRATIONS[POSTGRES_MIGRATIONS.length - 1]!.version;
    } catch {
      return false;
    }
  }

  pressure(): StorePressure {
    return { commitQueue: this.queue.commitQueue, poolWaiting: this.pool.waitingCount };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue.drain();
    this.closed = true;
    await this.wakeUps.stop();
    await this.pool.end();
    await this.workPool.end();
  }
}
