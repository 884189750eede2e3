/**
 * The embedded store: one SQLite file (WAL) through better-sqlite3.
 * Every statement is prepared once; writes on the hot paths (new deliveries, attempt results)
 * go through a GroupCommit so concurrent callers share one transaction and one fsync. New
 * deliveries are made durable by an fdatasync of the WAL off the event loop (wal-sync.ts) before
 * their callers are answered; everything else commits with `synchronous=FULL`.
 *
 * Why one file of ~900 lines: the hot path is kept together. The grouped commits of new sends and
 * of attempt results, the WAL flush that answers senders, the claims (by lane, by gate, plain)
 * and the `relaxed` commit mode share one connection, one set of prepared statements and the
 * lease counter, and their durability is checked by reading them side by side. The colder areas
 * live beside it (accounts.ts, dashboard.ts, events.ts, lanes.ts, maintenance.ts) behind the
 * one-line methods at the end of the class; what is left here of them (keys, domains, signing
 * secrets, delivery reads) shares the prepared statements, and moves out when each area gets one
 * module for both dialects (issue 16).
 */
import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { GroupCommit } from '../group-commit.js';
import { decodeDeliveryCursor, encodeDeliveryCursor } from '../cursor.js';
import {
  type Account,
  type ApiKeyRecord,
  type AttemptOutcomeRecord,
  type AttemptRecord,
  type AuthenticatedKey,
  type ClaimRequest,
  type ClaimedDelivery,
  type DeliveryPage,
  type DeliveryWithAttempts,
  type DomainRecord,
  type EnqueueOptions,
  type IdempotentResponse,
  type KeyMode,
  type ListDeliveriesQuery,
  type NewApiKey,
  type NewDelivery,
  type ReleasedClaim,
  type SigningSecret,
  type Store,
  type GatedClaim,
  type GatedClaimRequest,
  type HeldExpiry,
  type Lane,
  type LaneClaimRequest,
  type PendingLane,
  type UpkeepAction,
  BacklogFullError,
  type StorePressure,
} from '../store.js';
import { gateAllowance, tatAfter } from '../../core/flow-control.js';
import { StatsTally } from '../delivery-stats.js';
import {
  CLAIMED_COLUMNS,
  DELIVERY_COLUMNS,
  LIMITED,
  gateOf,
  type InsertCall,
  type Row,
  deliveryParams,
  accountLimitsColumn,
  ACCOUNT_COLUMNS,
  bodyOnEvent,
  deliveryBodyColumn,
  signatureColumn,
  signingSecretsColumn,
  toAccount,
  toClaimed,
  toDelivery,
  toDomain,
} from '../rows.js';

const CLAIM_RETURNING = `${CLAIMED_COLUMNS}, ${deliveryBodyColumn('deliveries')},
  ${signingSecretsColumn('deliveries', ':secrets_after', 'rowid', 'group_concat')}, ${signatureColumn('deliveries')}`;
import { SqliteEvents } from './events.js';
import { SqliteLimits } from './limits.js';
import { backlogAllows, type LimitDefaults } from '../../core/limits.js';
import { SqliteMaintenance } from './maintenance.js';
import { SQLITE_MIGRATIONS } from './migrations.js';
import { SqliteDashboard } from './dashboard.js';
import { SqliteLanes } from './lanes.js';
import { SqliteAccounts } from './accounts.js';
import { statsWriter } from './stats.js';
import { lanesOf } from '../work-lanes.js';
import { type FileDataSync, SharedSync, type SyncFn, fileDataSync } from './wal-sync.js';

const DESTINATION_GONE = `(destination_id IS NOT NULL AND NOT EXISTS (
  SELECT 1 FROM destinations d WHERE d.id = deliveries.destination_id))`;
const DESTINATION_DISABLED = `(destination_id IS NOT NULL AND EXISTS (
  SELECT 1 FROM destinations d WHERE d.id = deliveries.destination_id AND d.enabled = 0))`;

export interface SqliteStoreOptions {
  /**
   * Makes the WAL durable (default: fdatasync of `<path>-wal`; unused where the database is not in
   * WAL mode). Tests pass their own to see that nobody is answered before it settles.
   */
  walSync?: SyncFn;
  /** The same on the calling thread, for big batches (default: fdatasync of `<path>-wal`). */
  walSyncNow?: () => void;
}

/**
 * A batch of at least this many calls had a busy event loop behind it: its WAL is flushed on the
 * loop (≈0.3 ms) rather than waiting a whole busy turn for the thread pool's answer.
 */
const FLUSH_ON_LOOP_AT = 8;

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly db: Db;
  private readonly events = new EventEmitter();
  private stmts: ReturnType<SqliteStore['prepare']> | null = null;
  private claimCounter = 0;
  /** Commits of new sends and events; each caller then waits for its batch's WAL flush. */
  private readonly inserts = new GroupCommit<InsertCall, { result: IdempotentResponse | BacklogFullError | null; durable: Promise<void> }>(
    (calls) => this.commitInserts(calls),
  );
  private readonly results = new GroupCommit<AttemptOutcomeRecord>((items) => this.commitResults(items));
  private closed = false;
  /** One prepared statement per shape of list query (which filters are set). */
  private readonly listStatements = new Map<string, Statement>();
  private eventsRepo: SqliteEvents | null = null;
  /** The dispatcher's claims by lane (lanes.ts). */
  private lanes: SqliteLanes | null = null;
  private limitsRepo: SqliteLimits | null = null;
  private maintenance: SqliteMaintenance | null = null;

  /**
   * Flushes committed WAL frames to disk, shared by the commits waiting for it. Null where the
   * database is not in WAL mode (`:memory:`, or a file system without WAL support): there new
   * sends commit with `synchronous=FULL` like everything else.
   */
  private readonly durable: SharedSync | null;
  private readonly walFile: FileDataSync | null;
  private readonly flushNow: () => void;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    const journal = this.db.pragma('journal_mode = WAL', { simple: true });
    this.walFile = journal === 'wal' ? fileDataSync(`${path}-wal`) : null;
    this.durable = this.walFile ? new SharedSync(options.walSync ?? this.walFile.sync) : null;
    this.flushNow = options.walSyncNow ?? this.walFile?.syncNow ?? (() => undefined);
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.events.setMaxListeners(0);
    this.syncFull = this.db.prepare('PRAGMA synchronous = FULL');
    this.syncNormal = this.db.prepare('PRAGMA synchronous = NORMAL');
  }

  private readonly syncFull;
  private readonly syncNormal;

  /**
   * Runs a commit without an fsync on the event loop. The dispatcher's bookkeeping (claims,
   * releases, attempt results) needs none: losing it to a power cut only means an attempt is made
   * again (at least once), and the next durable commit syncs it anyway. New sends and events wait
   * for `durable.sync()` after it. A process crash loses nothing either way (WAL).
   */
  private relaxed<T>(fn: () => T): T {
    this.syncNormal.run();
    try {
      return fn();
    } finally {
      this.syncFull.run();
    }
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
    this.stmts = this.prepare();
    this.lanes = new SqliteLanes(this.db);
    this.eventsRepo = new SqliteEvents(this.db);
    this.limitsRepo = new SqliteLimits(this.db);
    this.maintenance = new SqliteMaintenance(this.db, this.limitsRepo);
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
    return { commitQueue: this.inserts.depth, poolWaiting: 0 };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.inserts.drain();
    await this.durable?.sync().catch(() => undefined); // a flush after the last commit: callers answered
    await this.results.drain();
    this.closed = true;
    this.db.close();
    this.walFile?.close();
  }

  private get events_(): SqliteEvents {
    if (!this.eventsRepo) throw new Error('store not migrated: call migrate() first');
    return this.eventsRepo;
  }

  private get limits(): SqliteLimits {
    if (!this.limitsRepo) throw new Error('store not migrated: call migrate() first');
    return this.limitsRepo;
  }

  private get s() {
    if (!this.stmts) throw new Error('store not migrated: call migrate() first');
    return this.stmts;
  }

  private prepare() {
    const db = this.db;
    return {
      insertAccount: db.prepare('INSERT INTO accounts (id, name, created_at, limits) VALUES (:id, :name, :created_at, :limits)'),
      getAccount: db.prepare(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = ?`),
      insertKey: db.prepare(
        `INSERT INTO api_keys (id, account_id, mode, key_hash, prefix, created_at)
         VALUES (:id, :account_id, :mode, :key_hash, :prefix, :created_at)`,
      ),
      listKeys: db.prepare(
        `SELECT id, account_id, mode, prefix, created_at, last_used_at, revoked_at
         FROM api_keys WHERE account_id = ? ORDER BY created_at, id`,
      ),
      revokeKey: db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
      revokeKeyOfAccount: db.prepare(
        'UPDATE api_keys SET revoked_at = ? WHERE id = ? AND account_id = ? AND revoked_at IS NULL',
      ),
      authenticate: db.prepare(
        `SELECT k.id, k.account_id, k.mode, a.suspended_at IS NOT NULL AS suspended
         FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.key_hash = ? AND k.revoked_at IS NULL`,
      ),
      touchKey: db.prepare(
        'UPDATE api_keys SET last_used_at = MAX(COALESCE(last_used_at, 0), :at) WHERE id = :key_id',
      ),
      insertDomain: db.prepare(
        `INSERT INTO domains (account_id, domain, token, status, created_at, verified_at)
         VALUES (:account_id, :domain, :token, :status, :created_at, :verified_at)
         ON CONFLICT (account_id, domain) DO NOTHING`,
      ),
      getDomain: db.prepare('SELECT * FROM domains WHERE account_id = ? AND domain = ?'),
      listDomains: db.prepare('SELECT * FROM domains WHERE account_id = ? ORDER BY created_at, domain'),
      verifyDomain: db.prepare(
        `UPDATE domains SET status = 'verified', verified_at = COALESCE(verified_at, ?)
         WHERE account_id = ? AND domain = ?`,
      ),
      deleteDomain: db.prepare('DELETE FROM domains WHERE account_id = ? AND domain = ?'),
      verifiedDomainIn: db.prepare(
        `SELECT 1 FROM domains WHERE account_id = ? AND status = 'verified'
         AND domain IN (SELECT value FROM json_each(?)) LIMIT 1`,
      ),
      insertDelivery: db.prepare(
        `INSERT INTO deliveries (id, account_id, mode, target, origin, method, headers, body, policy,
           timeout_ms, idempotency_key, metadata, sign, status, created_at, updated_at,
           next_attempt_at, run_at, event_id, event_type, destination_id, gate)
         VALUES (:id, :account_id, :mode, :target, :origin, :method, :headers, :body, :policy,
           :timeout_ms, :idempotency_key, :metadata, :sign, 'queued', :created_at, :created_at,
           :created_at, :created_at, :event_id, :event_type, :destination_id, ${gateOf(':destination_id')})`,
      ),
      // new deliveries (always queued) join their account's pending count: one statement per
      // account and call, in the inserting transaction (migration 15: no per-row trigger)
      addPending: db.prepare(
        `INSERT INTO account_backlog (account_id, pending) VALUES (?, ?)
         ON CONFLICT (account_id) DO UPDATE SET pending = pending + excluded.pending`,
      ),
      getDelivery: db.prepare(
        `SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE id = ? AND account_id = ? AND mode = ?`,
      ),
      attemptsOf: db.prepare(
        `SELECT attempt, outcome, http_status, latency_ms, error, response_excerpt, created_at
         FROM attempts WHERE delivery_seq = ? ORDER BY attempt`,
      ),
      // A claim picks its rows with a plain SELECT, then leases them one by one by seq, in one
      // transaction: the same UPDATE with the SELECT as its subquery took 3× as long.
      // (These two are claimDue's, for tools and tests; the dispatcher claims by lane: lanes.ts.)
      dueSeqs: db
        .prepare(
          `SELECT seq FROM deliveries
           WHERE run_at <= :now AND gate IS NULL AND origin NOT IN (SELECT value FROM json_each(:excluded))
             AND account_id NOT IN (SELECT id FROM accounts WHERE suspended_at IS NOT NULL)
           ORDER BY run_at LIMIT :limit`,
        )
        .pluck(),
      dueSeqsOfOrigin: db
        .prepare(
          `SELECT seq FROM deliveries WHERE origin = :origin AND gate IS NULL AND run_at IS NOT NULL AND run_at <= :now
             AND account_id NOT IN (SELECT id FROM accounts WHERE suspended_at IS NOT NULL)
           ORDER BY run_at LIMIT :limit`,
        )
        .pluck(),
      lease: db.prepare(
        `UPDATE deliveries SET run_at = :now + timeout_ms + :margin, lease_token = :token, parked = 0
         WHERE seq = :seq
         RETURNING ${CLAIM_RETURNING}`,
      ),
      anyGate: db.prepare(`SELECT 1 FROM destinations x WHERE ${LIMITED} LIMIT 1`),
      gatesDue: db.prepare(
        `SELECT x.id, x.account_id, x.origin, x.rate_per_second, x.max_in_flight, x.rate_tat FROM destinations x
         WHERE ${LIMITED} AND EXISTS (SELECT 1 FROM deliveries WHERE gate = x.id AND run_at <= ?)
           AND x.account_id NOT IN (SELECT id FROM accounts WHERE suspended_at IS NOT NULL)`,
      ),
      leasedOf: db.prepare(
        'SELECT COUNT(*) AS n FROM deliveries WHERE gate = ? AND run_at > ? AND lease_token IS NOT NULL',
      ),
      dueSeqsOfGate: db
        .prepare('SELECT seq FROM deliveries WHERE gate = :gate AND run_at <= :now ORDER BY run_at LIMIT :limit')
        .pluck(),
      setRateTat: db.prepare('UPDATE destinations SET rate_tat = ? WHERE id = ?'),
      release: db.prepare(
        `UPDATE deliveries SET run_at = next_attempt_at, lease_token = NULL
         WHERE id = :id AND lease_token = :token`,
      ),
      // A retry of a delivery whose destination was disabled meanwhile is parked (run_at NULL);
      // one whose destination was deleted meanwhile ends dead_letter (the attempt is still recorded).
      finishAttempt: db.prepare(
        `UPDATE deliveries SET attempt_count = :attempt, last_status = :http_status, updated_at = :now,
           lease_token = NULL,
           status = CASE WHEN :status = 'retrying' AND ${DESTINATION_GONE} THEN 'dead_letter' ELSE :status END,
           next_attempt_at = CASE WHEN ${DESTINATION_GONE} THEN NULL ELSE :next END,
           run_at = CASE WHEN ${DESTINATION_GONE} OR ${DESTINATION_DISABLED} THEN NULL ELSE :next END
         WHERE id = :id AND lease_token = :token
         RETURNING seq, account_id, mode, status`,
      ),
      insertAttempt: db.prepare(
        `INSERT OR REPLACE INTO attempts (delivery_seq, attempt, outcome, http_status, latency_ms, error,
           response_excerpt, created_at)
         VALUES (:seq, :attempt, :outcome, :http_status, :latency_ms, :error, :response_excerpt, :created_at)`,
      ),
      claimIdempotencyKey: db.prepare(
        `INSERT INTO idempotency_keys (account_id, mode, key, request_hash, status_code, response, created_at)
         VALUES (:account_id, :mode, :key, :request_hash, :status_code, :response, :created_at)
         ON CONFLICT (account_id, mode, key) DO UPDATE SET
           request_hash = excluded.request_hash, status_code = excluded.status_code,
           response = excluded.response, created_at = excluded.created_at
         WHERE idempotency_keys.created_at < :not_before`,
      ),
      deleteIdempotencyKey: db.prepare('DELETE FROM idempotency_keys WHERE account_id = ? AND mode = ? AND key = ?'),
      getIdempotencyKey: db.prepare(
        `SELECT key, request_hash, status_code, response, created_at FROM idempotency_keys
         WHERE account_id = ? AND mode = ? AND key = ? AND created_at >= ?`,
      ),
      signingSecrets: db.prepare(
        `SELECT secret, created_at, retired_at FROM signing_secrets
         WHERE account_id = ? AND mode = ? AND (retired_at IS NULL OR retired_at > ?)
         ORDER BY (retired_at IS NULL) DESC, created_at DESC, rowid DESC`,
      ),
      currentSecret: db.prepare(
        `SELECT secret, created_at, retired_at FROM signing_secrets
         WHERE account_id = ? AND mode = ? AND retired_at IS NULL`,
      ),
      insertSecret: db.prepare(
        `INSERT INTO signing_secrets (account_id, mode, secret, created_at, retired_at)
         VALUES (:account_id, :mode, :secret, :created_at, NULL)`,
      ),
      retireSecret: db.prepare(
        `UPDATE signing_secrets SET retired_at = :at
         WHERE account_id = :account_id AND mode = :mode AND retired_at IS NULL`,
      ),
      addStats: statsWriter(db),
    };
  }

  async createAccount(account: Account): Promise<void> {
    this.s.insertAccount.run({ id: account.id, name: account.name, created_at: account.created_at, limits: accountLimitsColumn(account.limits) });
  }

  async getAccount(id: string): Promise<Account | null> {
    const row = this.s.getAccount.get(id) as Row | undefined;
    return row ? toAccount(row) : null;
  }

  // The operator's view of accounts lives in accounts.ts.
  private accountsRepo: SqliteAccounts | null = null;
  private get accounts(): SqliteAccounts {
    if (!this.stmts) throw new Error('store not migrated: call migrate() first');
    return (this.accountsRepo ??= new SqliteAccounts(this.db));
  }
  async listAccounts(...a: Parameters<Store['listAccounts']>) {
    return this.accounts.list(...a);
  }
  async accountUsage(...a: Parameters<Store['accountUsage']>) {
    return this.accounts.usage(...a);
  }
  async updateAccount(...a: Parameters<Store['updateAccount']>) {
    const { account, resumed } = this.accounts.update(...a);
    if (resumed) this.events.emit('work', null); // its pending deliveries are claimable again
    return account;
  }
  async beginAccountErasure(...a: Parameters<Store['beginAccountErasure']>) {
    return this.accounts.beginErasure(...a);
  }
  async eraseAccountStep(...a: Parameters<Store['eraseAccountStep']>) {
    return this.accounts.eraseStep(...a);
  }
  async listErasingAccounts() {
    return this.accounts.erasing();
  }

  async createApiKey(key: NewApiKey, limits?: LimitDefaults): Promise<void> {
    if (!limits) return void this.s.insertKey.run(key);
    this.db
      .transaction(() => {
        this.limits.ensureRoom(key.account_id, 'max_keys', limits);
        this.s.insertKey.run(key);
      })
      .immediate();
  }

  async listApiKeys(accountId: string): Promise<ApiKeyRecord[]> {
    return this.s.listKeys.all(accountId) as ApiKeyRecord[];
  }

  async revokeApiKey(keyId: string, accountId: string | null, now: number): Promise<boolean> {
    const r =
      accountId === null ? this.s.revokeKey.run(now, keyId) : this.s.revokeKeyOfAccount.run(now, keyId, accountId);
    return r.changes > 0;
  }

  async authenticate(keyHash: string): Promise<AuthenticatedKey | null> {
    const r = this.s.authenticate.get(keyHash) as Row | undefined;
    if (!r) return null;
    return { key_id: r.id as string, account_id: r.account_id as string, mode: r.mode as KeyMode, suspended: r.suspended === 1 };
  }

  async touchApiKeys(uses: ReadonlyArray<{ key_id: string; at: number }>): Promise<void> {
    if (uses.length === 0) return;
    this.db.transaction(() => {
      for (const u of uses) this.s.touchKey.run(u);
    })();
  }

  async addDomain(domain: DomainRecord, limits?: LimitDefaults): Promise<{ record: DomainRecord; created: boolean }> {
    return this.db
      .transaction(() => {
        const existing = this.s.getDomain.get(domain.account_id, domain.domain) as Row | undefined;
        if (existing) return { record: toDomain(existing), created: false }; // re-adding is not a new one
        if (limits) this.limits.ensureRoom(domain.account_id, 'max_domains', limits);
        this.s.insertDomain.run(domain);
        return { record: toDomain(this.s.getDomain.get(domain.account_id, domain.domain) as Row), created: true };
      })
      .immediate();
  }

  async getDomain(accountId: string, domain: string): Promise<DomainRecord | null> {
    const r = this.s.getDomain.get(accountId, domain) as Row | undefined;
    return r ? toDomain(r) : null;
  }

  async listDomains(accountId: string): Promise<DomainRecord[]> {
    return (this.s.listDomains.all(accountId) as Row[]).map(toDomain);
  }

  async markDomainVerified(accountId: string, domain: string, now: number): Promise<DomainRecord | null> {
    this.s.verifyDomain.run(now, accountId, domain);
    return this.getDomain(accountId, domain);
  }

  async deleteDomain(accountId: string, domain: string): Promise<boolean> {
    return this.s.deleteDomain.run(accountId, domain).changes > 0;
  }

  async hasVerifiedDomain(accountId: string, domains: readonly string[]): Promise<boolean> {
    if (domains.length === 0) return false;
    return this.s.verifiedDomainIn.get(accountId, JSON.stringify(domains)) !== undefined;
  }

  enqueueDeliveries(
    accountId: string,
    mode: KeyMode,
    deliveries: readonly NewDelivery[],
    options: EnqueueOptions = {},
  ): Promise<IdempotentResponse | null> {
    return this.inserts.add({ accountId, mode, deliveries, options }).then(async ({ result, durable }) => {
      if (result instanceof BacklogFullError) throw result; // nothing of it was stored: no flush to wait for
      await durable;
      return result;
    });
  }

  async findIdempotentResponse(
    accountId: string,
    mode: KeyMode,
    key: string,
    notBefore: number,
  ): Promise<IdempotentResponse | null> {
    return (this.s.getIdempotencyKey.get(accountId, mode, key, notBefore) as IdempotentResponse | undefined) ?? null;
  }

  /** Adds a commit's tallies to delivery_stats (inside that commit). */
  private addStats(stats: StatsTally): void {
    this.s.addStats(stats);
  }

  /**
   * Commits a batch of sends and events without an fsync of SQLite's own, then flushes the WAL:
   * a small batch starts (or joins) a flush off the event loop, and the next batch commits
   * meanwhile and shares the next one; a big batch (FLUSH_ON_LOOP_AT) is flushed at once on the
   * loop. Either way each caller (and its 202) is answered only once its flush is done. The
   * dispatcher may start on the new work at once (at least once either way).
   */
  private commitInserts(calls: InsertCall[]): Array<{ result: IdempotentResponse | BacklogFullError | null; durable: Promise<void> }> {
    const insert = this.s.insertDelivery;
    const stats = new StatsTally();
    const commit = this.db.transaction(() => {
      const out = calls.map((call) => {
        const idem = call.options.idempotency;
        if (idem) {
          const claimed = this.s.claimIdempotencyKey.run({
            account_id: call.accountId,
            mode: call.mode,
            not_before: call.options.idempotencyNotBefore ?? 0,
            ...idem,
          });
          if (claimed.changes === 0) {
            return this.s.getIdempotencyKey.get(call.accountId, call.mode, idem.key, 0) as IdempotentResponse;
          }
        }
        const full = call.options.limits ? this.backlogFull(call.accountId, call.deliveries.length, call.options.limits) : null;
        if (full) {
          if (idem) this.s.deleteIdempotencyKey.run(call.accountId, call.mode, idem.key); // nothing was done under it
          return full;
        }
        if (call.options.event) this.events_.insertEvent(call.options.event, call.options.eventPayload);
        for (const d of call.deliveries) {
          insert.run({ ...deliveryParams(d), sign: d.sign ? 1 : 0, body: bodyOnEvent(d, call.options) ? null : d.body });
          stats.accepted(call.accountId, call.mode, d.created_at, 1);
        }
        // a call's deliveries are all its account's; counted before the next call of this commit
        // checks its backlog (backlogFull)
        if (call.deliveries.length > 0) this.s.addPending.run(call.accountId, call.deliveries.length);
        return null;
      });
      this.addStats(stats);
      return out;
    });
    const results = this.durable ? this.relaxed(commit) : commit();
    const lanes = lanesOf(calls.filter((_, i) => results[i] === null).flatMap((c) => c.deliveries));
    if (lanes.length > 0) this.events.emit('work', lanes);
    const durable = this.durable === null ? Promise.resolve() : calls.length >= FLUSH_ON_LOOP_AT ? this.flushOnLoop() : this.durable.sync();
    return results.map((result) => ({ result, durable }));
  }

  /**
   * Why `adding` more deliveries cannot be accepted for the account now (its pending ones, kept by
   * triggers, would pass its max_pending_deliveries), or null when they can. Inside the commit:
   * the calls before this one in the same commit are already counted.
   */
  private backlogFull(accountId: string, adding: number, defaults: LimitDefaults): BacklogFullError | null {
    const max = this.limits.effective(accountId, defaults).max_pending_deliveries;
    const pending = this.limits.pending(accountId);
    return backlogAllows(pending, adding, max) ? null : new BacklogFullError(pending, adding, max);
  }

  private flushOnLoop(): Promise<void> {
    try {
      this.flushNow();
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async getSigningSecrets(accountId: string, mode: KeyMode, retiredAfter: number): Promise<SigningSecret[]> {
    return this.s.signingSecrets.all(accountId, mode, retiredAfter) as SigningSecret[];
  }

  async ensureSigningSecret(accountId: string, mode: KeyMode, candidate: SigningSecret): Promise<SigningSecret> {
    return this.db.transaction(() => {
      const current = this.s.currentSecret.get(accountId, mode) as SigningSecret | undefined;
      if (current) return current;
      this.s.insertSecret.run({ account_id: accountId, mode, secret: candidate.secret, created_at: candidate.created_at });
      return { secret: candidate.secret, created_at: candidate.created_at, retired_at: null };
    }).immediate();
  }

  async rotateSigningSecret(accountId: string, mode: KeyMode, next: SigningSecret): Promise<void> {
    this.db.transaction(() => {
      this.s.retireSecret.run({ account_id: accountId, mode, at: next.created_at });
      this.s.insertSecret.run({ account_id: accountId, mode, secret: next.secret, created_at: next.created_at });
    }).immediate();
  }

  async getDelivery(accountId: string, mode: KeyMode, id: string): Promise<DeliveryWithAttempts | null> {
    const r = this.s.getDelivery.get(id, accountId, mode) as Row | undefined;
    if (!r) return null;
    const attempts = this.s.attemptsOf.all(r.seq) as AttemptRecord[];
    return { delivery: toDelivery(r), attempts };
  }

  async listDeliveries(accountId: string, mode: KeyMode, query: ListDeliveriesQuery): Promise<DeliveryPage> {
    const params: Record<string, unknown> = { account_id: accountId, mode, limit: query.limit + 1 };
    const where = ['account_id = :account_id', 'mode = :mode'];
    for (const f of ['status', 'destination_id', 'event_id', 'idempotency_key'] as const) {
      if (query[f] !== undefined) {
        where.push(`${f} = :${f}`);
        params[f] = query[f];
      }
    }
    const at = query.cursor === undefined ? null : decodeDeliveryCursor(query.cursor);
    if (at?.before_seq != null) {
      where.push('seq < :before');
      params.before = at.before_seq;
    }
    if (at?.created_before != null) {
      where.push('created_at < :created_before');
      params.created_before = at.created_before;
    }
    const sql = `SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT :limit`;
    let stmt = this.listStatements.get(sql);
    if (!stmt) this.listStatements.set(sql, (stmt = this.db.prepare(sql)));
    const rows = stmt.all(params) as Row[];
    const more = rows.length > query.limit;
    const page = more ? rows.slice(0, query.limit) : rows;
    const last = page[page.length - 1];
    return {
      rows: page.map(toDelivery),
      next_cursor: more && last ? encodeDeliveryCursor(last.seq as number, at?.created_before ?? null) : null,
    };
  }

  /** Leases the deliveries `seqs` names (picked inside the same transaction), oldest first. */
  private leaseSeqs(seqs: readonly number[], lease: { now: number; margin: number; token: string; secrets_after: number }): ClaimedDelivery[] {
    const rows = seqs.map((seq) => this.s.lease.get({ ...lease, seq }) as Row);
    rows.sort((a, b) => (a.seq as number) - (b.seq as number));
    return rows.map(toClaimed);
  }

  async claimDue(req: ClaimRequest): Promise<ClaimedDelivery[]> {
    if (req.limit <= 0) return [];
    const lease = {
      now: req.now,
      margin: req.leaseMarginMs,
      token: `${req.owner}.${++this.claimCounter}`,
      secrets_after: req.secretsRetiredAfter,
    };
    return this.relaxed(() =>
      this.db.transaction(() => {
        const seqs = (
          req.origin !== undefined
            ? this.s.dueSeqsOfOrigin.all({ now: req.now, origin: req.origin, limit: req.limit })
            : this.s.dueSeqs.all({ now: req.now, excluded: JSON.stringify(req.excludeOrigins), limit: req.limit })
        ) as number[];
        return this.leaseSeqs(seqs, lease);
      })(),
    );
  }

  private get lanesRepo(): SqliteLanes {
    if (!this.lanes) throw new Error('store not migrated: call migrate() first');
    return this.lanes;
  }

  async claimLanes(req: LaneClaimRequest): Promise<ClaimedDelivery[]> {
    const lease = {
      now: req.now,
      margin: req.leaseMarginMs,
      token: `${req.owner}.${++this.claimCounter}`,
      secrets_after: req.secretsRetiredAfter,
    };
    return this.relaxed(() => this.db.transaction(() => this.lanesRepo.claim(req, (seqs) => this.leaseSeqs(seqs, lease)))());
  }

  async pendingLanes(): Promise<PendingLane[]> {
    return this.lanesRepo.pending();
  }

  async expireHeld(req: HeldExpiry): Promise<number> {
    return this.relaxed(() => this.db.transaction(() => this.lanesRepo.expire(req))());
  }

  async releaseClaims(claims: readonly ReleasedClaim[], options: { quiet?: boolean } = {}): Promise<void> {
    if (claims.length === 0) return;
    this.relaxed(() =>
      this.db.transaction(() => {
        for (const c of claims) this.s.release.run({ id: c.delivery_id, token: c.lease_token });
      })(),
    );
    if (!options.quiet) this.events.emit('work', null);
  }

  async recordAttempts(results: readonly AttemptOutcomeRecord[]): Promise<void> {
    await Promise.all(results.map((r) => this.results.add(r)));
  }

  private commitResults(items: AttemptOutcomeRecord[]): void[] {
    const now = Date.now();
    const stats = new StatsTally();
    this.relaxed(() => this.db.transaction(() => {
      for (const r of items) {
        const row = this.s.finishAttempt.get({
          status: r.status,
          attempt: r.attempt.attempt,
          http_status: r.attempt.http_status,
          now,
          next: r.next_attempt_at,
          id: r.delivery_id,
          token: r.lease_token,
        }) as Row | undefined;
        if (!row) continue; // the lease was lost: another claim owns this delivery now
        this.s.insertAttempt.run({ seq: row.seq, ...r.attempt });
        stats.attempt(row.account_id as string, row.mode as string, r.attempt.created_at, r.attempt.outcome, row.status as string);
      }
      this.addStats(stats);
    })());
    // a retry's time is known to the dispatcher that recorded it; nobody else needs waking
    return items.map(() => undefined);
  }

  private get m(): SqliteMaintenance {
    if (!this.maintenance) throw new Error('store not migrated: call migrate() first');
    return this.maintenance;
  }

  async requeueDelivery(...a: Parameters<Store['requeueDelivery']>) {
    const r = this.m.requeueDelivery(...a);
    if (r === 'requeued') this.events.emit('work', null);
    return r;
  }

  async requeueDeliveries(...a: Parameters<Store['requeueDeliveries']>): Promise<number> {
    const n = this.m.requeueDeliveries(...a);
    if (n > 0) this.events.emit('work', null);
    return n;
  }

  async prune(req: Parameters<Store['prune']>[0]) {
    return this.m.prune(req);
  }

  /** SQLite keeps no dead row versions (freed pages are reused), so there is nothing to reclaim. */
  async upkeep(): Promise<UpkeepAction[]> {
    return [];
  }

  async expediteLane(lane: Lane, now: number): Promise<number> {
    return this.relaxed(() => this.db.transaction(() => this.lanesRepo.expedite(lane, now))());
  }

  async claimGated(req: GatedClaimRequest): Promise<GatedClaim> {
    const out: GatedClaim = { claimed: [], nextAt: null, anyGates: false, inFlightBound: false };
    if (!this.s.anyGate.get()) return out;
    out.anyGates = true;
    /** What this call already claimed per lane, origin and account: the caller's room is shared by its gates. */
    const used = new Map<string, number>();
    this.relaxed(() =>
      this.db.transaction(() => {
        for (const g of this.s.gatesDue.all(req.now) as Row[]) {
          const left = req.limit - out.claimed.length;
          if (left <= 0) break;
          const state = {
            perSecond: (g.rate_per_second as number | null) ?? null,
            tat: g.rate_tat as number,
            maxInFlight: (g.max_in_flight as number | null) ?? null,
            leased: g.max_in_flight == null ? 0 : ((this.s.leasedOf.get(g.id, req.now) as Row).n as number),
          };
          const lane = { account_id: g.account_id as string, origin: g.origin as string };
          const keys = [`l ${lane.account_id} ${lane.origin}`, `o ${lane.origin}`, `a ${lane.account_id}`] as const;
          const r = req.room(lane);
          const room = Math.min(r.lane - (used.get(keys[0]) ?? 0), r.origin - (used.get(keys[1]) ?? 0), r.account - (used.get(keys[2]) ?? 0));
          const allow = gateAllowance(state, Math.max(0, Math.min(left, room)), req.now);
          out.inFlightBound ||= allow.inFlightBound;
          if (allow.rateNextAt !== null) out.nextAt = Math.min(out.nextAt ?? Infinity, allow.rateNextAt);
          if (allow.take <= 0) continue;
          const seqs = this.s.dueSeqsOfGate.all({ gate: g.id, now: req.now, limit: allow.take }) as number[];
          const claimed = this.leaseSeqs(seqs, {
            now: req.now,
            margin: req.leaseMarginMs,
            token: `${req.owner}.${++this.claimCounter}`,
            secrets_after: req.secretsRetiredAfter,
          });
          out.claimed.push(...claimed);
          for (const key of keys) used.set(key, (used.get(key) ?? 0) + claimed.length);
          if (state.perSecond !== null) this.s.setRateTat.run(tatAfter(state.perSecond, state.tat, req.now, claimed.length), g.id);
        }
      })(),
    );
    return out;
  }

  async countPendingDeliveries(): Promise<{ queued: number; retrying: number; dead_letter: number }> {
    const out = { queued: 0, retrying: 0, dead_letter: 0 };
    const rows = this.db
      .prepare(`SELECT status, COUNT(*) AS n FROM deliveries WHERE status IN ('queued', 'retrying', 'dead_letter') GROUP BY status`)
      .all() as Array<{ status: keyof typeof out; n: number }>;
    for (const r of rows) out[r.status] = r.n;
    return out;
  }

  // Destinations, subscriptions and events live in events.ts.
  createDestination(...a: Parameters<Store['createDestination']>) {
    return this.events_.createDestination(...a);
  }
  getDestination(...a: Parameters<Store['getDestination']>) {
    return this.events_.getDestination(...a);
  }
  listDestinations(...a: Parameters<Store['listDestinations']>) {
    return this.events_.listDestinations(...a);
  }
  async updateDestination(...a: Parameters<Store['updateDestination']>) {
    const r = await this.events_.updateDestination(...a);
    if (a[3].enabled === true) this.events.emit('work', null);
    return r;
  }
  disableDestination(...a: Parameters<Store['disableDestination']>) {
    return this.events_.disableDestination(...a);
  }
  deleteDestination(...a: Parameters<Store['deleteDestination']>) {
    return this.events_.deleteDestination(...a);
  }
  getDestinationSecrets(...a: Parameters<Store['getDestinationSecrets']>) {
    return this.events_.getDestinationSecrets(...a);
  }
  rotateDestinationSecret(...a: Parameters<Store['rotateDestinationSecret']>) {
    return this.events_.rotateDestinationSecret(...a);
  }
  createSubscription(...a: Parameters<Store['createSubscription']>) {
    return this.events_.createSubscription(...a);
  }
  listSubscriptions(...a: Parameters<Store['listSubscriptions']>) {
    return this.events_.listSubscriptions(...a);
  }
  deleteSubscription(...a: Parameters<Store['deleteSubscription']>) {
    return this.events_.deleteSubscription(...a);
  }
  subscribedDestinations(...a: Parameters<Store['subscribedDestinations']>) {
    return this.events_.subscribedDestinations(...a);
  }
  getEvent(...a: Parameters<Store['getEvent']>) {
    return this.events_.getEvent(...a);
  }
  listEvents(...a: Parameters<Store['listEvents']>) {
    return this.events_.listEvents(...a);
  }

  onWork(listener: (lanes: readonly Lane[] | null) => void): () => void {
    this.events.on('work', listener);
    return () => this.events.off('work', listener);
  }

  // The dashboard's login tokens, sessions and home-page counts live in dashboard.ts.
  private dashboardRepo: SqliteDashboard | null = null;
  private get dashboard(): SqliteDashboard {
    if (!this.stmts) throw new Error('store not migrated: call migrate() first');
    return (this.dashboardRepo ??= new SqliteDashboard(this.db));
  }
  async createLoginToken(...a: Parameters<Store['createLoginToken']>): Promise<void> {
    this.dashboard.createLoginToken(...a);
  }
  async redeemLoginToken(...a: Parameters<Store['redeemLoginToken']>) {
    return this.dashboard.redeemLoginToken(...a);
  }
  async getDashboardSession(...a: Parameters<Store['getDashboardSession']>) {
    return this.dashboard.getSession(...a);
  }
  async deleteDashboardSession(...a: Parameters<Store['deleteDashboardSession']>): Promise<void> {
    this.dashboard.deleteSession(...a);
  }
  async switchDashboardSessionMode(...a: Parameters<Store['switchDashboardSessionMode']>) {
    return this.dashboard.switchSessionMode(...a);
  }
  async dashboardOverview(...a: Parameters<Store['dashboardOverview']>) {
    return this.dashboard.overview(...a);
  }
}
