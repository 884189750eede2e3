/**
 * The PostgreSQL store, for many Harepost processes on one database. Claims are
 * `UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED LIMIT n)`, so each delivery is leased by one
 * process at a time; new work wakes every process's dispatcher through LISTEN/NOTIFY. Hot-path
 * writes are grouped (one transaction for all the sends of a moment) and bulk (unnest arrays).
 *
 * Why one file of ~950 lines: the hot path is kept together. The grouped commits of new sends and
 * of attempt results, the claims (by lane, by gate, plain), the two pools (the relaxed one for
 * the dispatcher's bookkeeping), the transaction helper, the clock choice and LISTEN/NOTIFY
 * wake-ups depend on one another, and are checked by reading them side by side. The colder
 * areas live beside it (accounts.ts, dashboard.ts, postgres-events.ts, lanes.ts, maintenance.ts)
 * behind the one-line methods of the class; what is left here of them (keys, domains, signing
 * secrets, delivery reads) moves out when each area gets one module for both dialects (issue 16).
 */
import { EventEmitter } from 'node:events';
import type pg from 'pg';
import { decodeDeliveryCursor, encodeDeliveryCursor } from '../cursor.js';
import { GroupCommit } from '../group-commit.js';
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
import type {
  Account,
  ApiKeyRecord,
  AttemptOutcomeRecord,
  AttemptRecord,
  AuthenticatedKey,
  ClaimRequest,
  ClaimedDelivery,
  DeliveryPage,
  DeliveryWithAttempts,
  DomainRecord,
  EnqueueOptions,
  EventRecord,
  IdempotentResponse,
  KeyMode,
  ListDeliveriesQuery,
  NewApiKey,
  NewDelivery,
  ReleasedClaim,
  SigningSecret,
  Store,
  GatedClaim,
  GatedClaimRequest,
  HeldExpiry,
  Lane,
  LaneClaimRequest,
  PendingLane,
  StorePressure,
} from '../store.js';
import { gateAllowance, tatAfter } from '../../core/flow-control.js';
import { StatsTally } from '../delivery-stats.js';
import { addStats } from './stats.js';
import { type PgSettings, WORK_CHANNEL, WorkListener, createPool, parsePgUrl, reachable } from './connection.js';
import { POSTGRES_MIGRATIONS } from './migrations.js';
import type { Querier } from './querier.js';
import { NOW, type PgClock, SECRETS_AFTER, fromNow, nowParam, onProcessClock, secretsCutoff } from './clock.js';
import { PgMaintenance } from './maintenance.js';
import { PgEvents } from './postgres-events.js';
import { PgDashboard } from './dashboard.js';
import { PgLanes } from './lanes.js';
import { encodeLanes, lanesOf } from '../work-lanes.js';
import { PgAccounts } from './accounts.js';
import { ensureRoom, lockBacklogs } from './limits.js';
import { backlogAllows, effectiveLimits, type LimitDefaults } from '../../core/limits.js';
import { BacklogFullError } from '../store.js';

/** PostgreSQL text cannot hold NUL: response excerpts and errors come from the outside world. */
const pgText = (s: string | null) => (s === null ? null : s.replace(/\u0000/g, '\uFFFD'));

const MIGRATION_LOCK = 0x6861_7265; // "hare": one process migrates at a time

const GONE = `(d.destination_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM destinations x WHERE x.id = d.destination_id))`;
const DISABLED = `(d.destination_id IS NOT NULL AND EXISTS (
  SELECT 1 FROM destinations x WHERE x.id = d.destination_id AND NOT x.enabled))`;
const CLAIMED_D = `${CLAIMED_COLUMNS.split(',')
  .map((c) => `d.${c.trim()}`)
  .join(', ')}, ${deliveryBodyColumn('d')}, ${signingSecretsColumn('d', SECRETS_AFTER, 'id', 'string_agg')}, ${signatureColumn('d')}`;

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  private readonly settings: PgSettings;
  private readonly clock: PgClock;
  private readonly pool: pg.Pool;
  /** The dispatcher's bookkeeping: claims, releases, attempt results (see createPool). */
  private readonly workPool: pg.Pool;
  private readonly emitter = new EventEmitter();
  private readonly channel: string;
  private listener: WorkListener | null = null;
  private claimCounter = 0;
  private closed = false;
  private readonly inserts = new GroupCommit<InsertCall, IdempotentResponse | BacklogFullError | null>((calls) => this.commitInserts(calls));
  private readonly results = new GroupCommit<AttemptOutcomeRecord>((items) => this.commitResults(items));
  private readonly ev: PgEvents;
  private readonly maintenance: PgMaintenance;

  /**
   * @param options.clock whose clock shared times are compared on (clock.ts): the database's, or
   *   (tests that drive time by hand, one process) the caller's `now`
   */
  constructor(url: string, options: { clock?: PgClock } = {}) {
    this.clock = options.clock ?? 'database';
    this.settings = parsePgUrl(url);
    this.pool = createPool(this.settings);
    this.workPool = createPool(this.settings, { relaxed: true, max: Math.max(2, Math.ceil(this.settings.poolSize / 2)) });
    this.channel = this.settings.schema ? `${WORK_CHANNEL}_${this.settings.schema}` : WORK_CHANNEL;
    this.emitter.setMaxListeners(0);
    this.ev = new PgEvents(
      (text, params) => this.q(text, params),
      (fn) => this.tx(fn),
      () => this.notify(null),
      this.clock,
    );
    this.maintenance = new PgMaintenance(
      (text, params) => this.q(text, params),
      (fn) => this.tx(fn),
      this.clock,
    );
  }

  /** A `now` for a NOW() parameter (clock.ts). */
  private at(now: number): number | null {
    return nowParam(this.clock, now);
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
    return { commitQueue: this.inserts.depth, poolWaiting: this.pool.waitingCount };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.inserts.drain();
    await this.results.drain();
    this.closed = true;
    await this.listener?.stop();
    await this.pool.end();
    await this.workPool.end();
  }

  /** Tells every process (and this one at once) that work may be due, for these lanes (null: any). */
  private notify(lanes: readonly Lane[] | null): Promise<void> {
    this.emitter.emit('work', lanes);
    return this.q('SELECT pg_notify($1, $2)', [this.channel, encodeLanes(lanes)]).then(
      () => undefined,
      () => undefined, // the other processes' slow poll finds the work anyway
    );
  }

  onWork(listener: (lanes: readonly Lane[] | null) => void): () => void {
    if (!this.listener && !this.closed) {
      this.listener = new WorkListener(
        { ...this.settings },
        (lanes) => this.emitter.emit('work', lanes),
        this.channel,
      );
      this.listener.start();
    }
    this.emitter.on('work', listener);
    return () => this.emitter.off('work', listener);
  }

  // Accounts and keys

  async createAccount(a: Account): Promise<void> {
    await this.q('INSERT INTO accounts (id, name, created_at, limits) VALUES ($1, $2, $3, $4)', [
      a.id,
      a.name,
      a.created_at,
      accountLimitsColumn(a.limits),
    ]);
  }

  async getAccount(id: string): Promise<Account | null> {
    const row = (await this.q(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1`, [id]))[0];
    return row ? toAccount(row) : null;
  }

  // The operator's view of accounts lives in accounts.ts.
  private accountsRepo: PgAccounts | null = null;
  private get accounts(): PgAccounts {
    return (this.accountsRepo ??= new PgAccounts(
      (text, params) => this.q(text, params),
      (fn) => this.tx(fn),
    ));
  }
  listAccounts(...a: Parameters<Store['listAccounts']>) {
    return this.accounts.list(...a);
  }
  accountUsage(...a: Parameters<Store['accountUsage']>) {
    return this.accounts.usage(...a);
  }
  async updateAccount(...a: Parameters<Store['updateAccount']>) {
    const { account, resumed } = await this.accounts.update(...a);
    if (resumed) await this.notify(null); // its pending deliveries are claimable again, in every process
    return account;
  }
  beginAccountErasure(...a: Parameters<Store['beginAccountErasure']>) {
    return this.accounts.beginErasure(...a);
  }
  eraseAccountStep(...a: Parameters<Store['eraseAccountStep']>) {
    return this.accounts.eraseStep(...a);
  }
  listErasingAccounts() {
    return this.accounts.erasing();
  }

  async createApiKey(k: NewApiKey, limits?: LimitDefaults): Promise<void> {
    const insert = (q: Querier) =>
      q(`INSERT INTO api_keys (id, account_id, mode, key_hash, prefix, created_at) VALUES ($1, $2, $3, $4, $5, $6)`, [
        k.id,
        k.account_id,
        k.mode,
        k.key_hash,
        k.prefix,
        k.created_at,
      ]);
    if (!limits) return void (await insert(this.q));
    await this.tx(async (q) => {
      await ensureRoom(q, k.account_id, 'max_keys', limits);
      await insert(q);
    });
  }

  async listApiKeys(accountId: string): Promise<ApiKeyRecord[]> {
    return (await this.q(
      `SELECT id, account_id, mode, prefix, created_at, last_used_at, revoked_at FROM api_keys
       WHERE account_id = $1 ORDER BY created_at, id`,
      [accountId],
    )) as unknown as ApiKeyRecord[];
  }

  async revokeApiKey(keyId: string, accountId: string | null, now: number): Promise<boolean> {
    const rows = await this.q(
      `UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND ($3::text IS NULL OR account_id = $3)
       AND revoked_at IS NULL RETURNING id`,
      [now, keyId, accountId],
    );
    return rows.length > 0;
  }

  async authenticate(keyHash: string): Promise<AuthenticatedKey | null> {
    const r = (
      await this.q(
        `SELECT k.id, k.account_id, k.mode, a.suspended_at IS NOT NULL AS suspended
         FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.key_hash = $1 AND k.revoked_at IS NULL`,
        [keyHash],
      )
    )[0];
    return r ? { key_id: r.id as string, account_id: r.account_id as string, mode: r.mode as KeyMode, suspended: r.suspended === true } : null;
  }

  async touchApiKeys(uses: ReadonlyArray<{ key_id: string; at: number }>): Promise<void> {
    if (uses.length === 0) return;
    await this.q(
      `UPDATE api_keys k SET last_used_at = GREATEST(COALESCE(k.last_used_at, 0), u.at)
       FROM unnest($1::text[], $2::bigint[]) AS u(id, at) WHERE k.id = u.id`,
      [uses.map((u) => u.key_id), uses.map((u) => u.at)],
    );
  }

  // Domains

  async addDomain(d: DomainRecord, limits?: LimitDefaults): Promise<{ record: DomainRecord; created: boolean }> {
    const existing = await this.getDomain(d.account_id, d.domain);
    if (existing) return { record: existing, created: false }; // re-adding is not a new one
    const inserted = await this.tx(async (q) => {
      if (limits) {
        await ensureRoom(q, d.account_id, 'max_domains', limits);
        // added meanwhile by a create that held the lock before us: not a new one either
        const [now] = await q('SELECT * FROM domains WHERE account_id = $1 AND domain = $2', [d.account_id, d.domain]);
        if (now) return null;
      }
      return q(
        `INSERT INTO domains (account_id, domain, token, status, created_at, verified_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (account_id, domain) DO NOTHING RETURNING *`,
        [d.account_id, d.domain, d.token, d.status, d.created_at, d.verified_at],
      );
    });
    if (inserted?.[0]) return { record: toDomain(inserted[0]), created: true };
    return { record: (await this.getDomain(d.account_id, d.domain))!, created: false };
  }

  async getDomain(accountId: string, domain: string): Promise<DomainRecord | null> {
    const r = (await this.q('SELECT * FROM domains WHERE account_id = $1 AND domain = $2', [accountId, domain]))[0];
    return r ? toDomain(r) : null;
  }

  async listDomains(accountId: string): Promise<DomainRecord[]> {
    return (await this.q('SELECT * FROM domains WHERE account_id = $1 ORDER BY created_at, domain', [accountId])).map(toDomain);
  }

  async markDomainVerified(accountId: string, domain: string, now: number): Promise<DomainRecord | null> {
    const r = (
      await this.q(
        `UPDATE domains SET status = 'verified', verified_at = COALESCE(verified_at, $1)
         WHERE account_id = $2 AND domain = $3 RETURNING *`,
        [now, accountId, domain],
      )
    )[0];
    return r ? toDomain(r) : null;
  }

  async deleteDomain(accountId: string, domain: string): Promise<boolean> {
    return (await this.q('DELETE FROM domains WHERE account_id = $1 AND domain = $2 RETURNING domain', [accountId, domain])).length > 0;
  }

  async hasVerifiedDomain(accountId: string, domains: readonly string[]): Promise<boolean> {
    if (domains.length === 0) return false;
    const rows = await this.q(
      `SELECT 1 FROM domains WHERE account_id = $1 AND status = 'verified' AND domain = ANY($2::text[]) LIMIT 1`,
      [accountId, domains],
    );
    return rows.length > 0;
  }

  // Deliveries

  enqueueDeliveries(
    accountId: string,
    mode: KeyMode,
    deliveries: readonly NewDelivery[],
    options: EnqueueOptions = {},
  ): Promise<IdempotentResponse | null> {
    return this.inserts.add({ accountId, mode, deliveries, options }).then((result) => {
      if (result instanceof BacklogFullError) throw result; // nothing of this call was stored
      return result;
    });
  }

  async findIdempotentResponse(accountId: string, mode: KeyMode, key: string, notBefore: number) {
    // the key's window by the database's clock (clock.ts): as far back from its now as notBefore is from this process's
    const window = fromNow(this.clock, notBefore);
    const r = (
      await this.q(
        `SELECT key, request_hash, status_code, response, created_at FROM idempotency_keys
         WHERE account_id = $1 AND mode = $2 AND key = $3 AND created_at >= ${NOW('$5')} + $4::bigint`,
        [accountId, mode, key, window.offset, window.base],
      )
    )[0];
    return (r as unknown as IdempotentResponse) ?? null;
  }

  private async commitInserts(calls: InsertCall[]): Promise<Array<IdempotentResponse | BacklogFullError | null>> {
    let lanes: Lane[] = [];
    const results = await this.tx(async (q) => {
      const out: Array<IdempotentResponse | BacklogFullError | null> = [];
      const deliveries: NewDelivery[] = [];
      const events: Array<{ event: EventRecord; payload: Buffer | null | undefined }> = [];
      // the backlogs of the accounts whose calls are limited, locked first (see limits.ts)
      const limited = calls.filter((c) => c.options.limits && c.deliveries.length > 0).map((c) => c.accountId);
      const backlogs = limited.length > 0 ? await lockBacklogs(q, limited) : null;
      for (const call of calls) {
        const idem = call.options.idempotency;
        if (idem) {
          // recorded at the database's now and taken over once older than its window by the
          // database's clock (clock.ts): another process checks it, whatever this one's clock says
          const window = call.options.idempotencyNotBefore === undefined ? null : fromNow(this.clock, call.options.idempotencyNotBefore);
          const claimed = await q(
            `INSERT INTO idempotency_keys (account_id, mode, key, request_hash, status_code, response, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, ${NOW('$7')})
             ON CONFLICT (account_id, mode, key) DO UPDATE SET request_hash = excluded.request_hash,
               status_code = excluded.status_code, response = excluded.response, created_at = excluded.created_at
             WHERE idempotency_keys.created_at < COALESCE(${NOW('$9')} + $8::bigint, 0)
             RETURNING key`,
            [
              call.accountId,
              call.mode,
              idem.key,
              idem.request_hash,
              idem.status_code,
              idem.response,
              nowParam(this.clock, idem.created_at),
              window?.offset ?? null,
              window?.base ?? null,
            ],
          );
          if (claimed.length === 0) {
            const [earlier] = await q(
              `SELECT key, request_hash, status_code, response, created_at FROM idempotency_keys
               WHERE account_id = $1 AND mode = $2 AND key = $3`,
              [call.accountId, call.mode, idem.key],
            );
            out.push(earlier as unknown as IdempotentResponse);
            continue;
          }
        }
        const backlog = call.options.limits ? backlogs?.get(call.accountId) : undefined;
        if (backlog && call.options.limits) {
          const max = effectiveLimits(backlog.own, call.options.limits).max_pending_deliveries;
          if (!backlogAllows(backlog.pending, call.deliveries.length, max)) {
            if (idem) await q('DELETE FROM idempotency_keys WHERE account_id = $1 AND mode = $2 AND key = $3', [call.accountId, call.mode, idem.key]);
            out.push(new BacklogFullError(backlog.pending, call.deliveries.length, max));
            continue;
          }
          backlog.pending += call.deliveries.length; // the next calls of this commit count these
        }
        if (call.options.event) events.push({ event: call.options.event, payload: call.options.eventPayload });
        for (const d of call.deliveries) {
          deliveries.push(bodyOnEvent(d, call.options) ? { ...d, body: null } : d);
        }
        out.push(null);
      }
      if (events.length > 0) await this.ev.insertEvents(q, events);
      if (deliveries.length > 0) {
        await insertDeliveries(q, deliveries, this.clock);
        const stats = new StatsTally();
        for (const d of deliveries) stats.accepted(d.account_id, d.mode, d.created_at, 1);
        await addStats(q, stats);
      }
      lanes = lanesOf(deliveries);
      if (lanes.length > 0) await q('SELECT pg_notify($1, $2)', [this.channel, encodeLanes(lanes)]);
      return out;
    });
    if (lanes.length > 0) this.emitter.emit('work', lanes);
    return results;
  }

  async getDelivery(accountId: string, mode: KeyMode, id: string): Promise<DeliveryWithAttempts | null> {
    const r = (
      await this.q(`SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE id = $1 AND account_id = $2 AND mode = $3`, [id, accountId, mode])
    )[0];
    if (!r) return null;
    const attempts = (await this.q(
      `SELECT attempt, outcome, http_status, latency_ms, error, response_excerpt, created_at
       FROM attempts WHERE delivery_seq = $1 ORDER BY attempt`,
      [r.seq],
    )) as unknown as AttemptRecord[];
    return { delivery: toDelivery(r), attempts };
  }

  async listDeliveries(accountId: string, mode: KeyMode, query: ListDeliveriesQuery): Promise<DeliveryPage> {
    const params: unknown[] = [accountId, mode];
    const where = ['account_id = $1', 'mode = $2'];
    for (const f of ['status', 'destination_id', 'event_id', 'idempotency_key'] as const) {
      if (query[f] !== undefined) {
        params.push(query[f]);
        where.push(`${f} = $${params.length}`);
      }
    }
    const at = query.cursor === undefined ? null : decodeDeliveryCursor(query.cursor);
    if (at?.before_seq != null) {
      params.push(at.before_seq);
      where.push(`seq < $${params.length}`);
    }
    if (at?.created_before != null) {
      params.push(at.created_before);
      where.push(`created_at < $${params.length}::bigint`);
    }
    params.push(query.limit + 1);
    const rows = await this.q(
      `SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT $${params.length}`,
      params,
    );
    const more = rows.length > query.limit;
    const page = more ? rows.slice(0, query.limit) : rows;
    const last = page[page.length - 1];
    return {
      rows: page.map(toDelivery),
      next_cursor: more && last ? encodeDeliveryCursor(last.seq as number, at?.created_before ?? null) : null,
    };
  }

  // The dispatcher's side

  async claimDue(req: ClaimRequest): Promise<ClaimedDelivery[]> {
    if (req.limit <= 0) return [];
    const token = `${req.owner}.${++this.claimCounter}`;
    // for tools and tests: the dispatcher claims by lane (lanes.ts)
    const awake = 'account_id NOT IN (SELECT id FROM accounts WHERE suspended_at IS NOT NULL)';
    const pick =
      req.origin !== undefined
        ? `SELECT seq FROM deliveries WHERE origin = $4 AND gate IS NULL AND run_at IS NOT NULL AND run_at <= ${NOW('$1')} AND ${awake}
           ORDER BY run_at LIMIT $5 FOR UPDATE SKIP LOCKED`
        : `SELECT seq FROM deliveries WHERE run_at <= ${NOW('$1')} AND gate IS NULL AND NOT (origin = ANY($4::text[])) AND ${awake}
           ORDER BY run_at LIMIT $5 FOR UPDATE SKIP LOCKED`;
    // due and leased by the database's clock (clock.ts): never this process's
    const rows = await this.work(
      `UPDATE deliveries d SET run_at = ${NOW('$1')} + d.timeout_ms + $2, lease_token = $3, parked = false
       FROM (${pick}) c WHERE d.seq = c.seq
       RETURNING ${CLAIMED_D}`,
      [this.at(req.now), req.leaseMarginMs, token, req.origin ?? [...req.excludeOrigins], req.limit, secretsCutoff(req)],
    );
    rows.sort((a, b) => (a.seq as number) - (b.seq as number));
    return rows.map(toClaimed);
  }

  /** The dispatcher's claims by lane, and the look for lanes with work (lanes.ts). */
  private lanesRepo: PgLanes | null = null;
  private get lanes(): PgLanes {
    return (this.lanesRepo ??= new PgLanes(
      (text, params) => this.work(text, params),
      (fn) => this.tx(fn, true),
      CLAIMED_D,
      this.clock,
    ));
  }

  claimLanes(req: LaneClaimRequest): Promise<ClaimedDelivery[]> {
    return this.lanes.claim(req, `${req.owner}.${++this.claimCounter}`);
  }

  pendingLanes(): Promise<PendingLane[]> {
    return this.lanes.pending();
  }

  expireHeld(req: HeldExpiry): Promise<number> {
    return this.lanes.expire(req);
  }

  expediteLane(lane: Lane, now: number): Promise<number> {
    return this.lanes.expedite(lane, now);
  }

  async releaseClaims(claims: readonly ReleasedClaim[], options: { quiet?: boolean } = {}): Promise<void> {
    if (claims.length === 0) return;
    await this.work(
      `UPDATE deliveries d SET run_at = d.next_attempt_at, lease_token = NULL
       FROM unnest($1::text[], $2::text[]) AS c(id, token) WHERE d.id = c.id AND d.lease_token = c.token`,
      [claims.map((c) => c.delivery_id), claims.map((c) => c.lease_token)],
    );
    if (!options.quiet) await this.notify(null);
  }

  async recordAttempts(results: readonly AttemptOutcomeRecord[]): Promise<void> {
    await Promise.all(results.map((r) => this.results.add(r)));
  }

  private async commitResults(items: AttemptOutcomeRecord[]): Promise<void[]> {
    const now = Date.now();
    await this.tx(async (q) => {
      const finished = await q(
        `UPDATE deliveries d SET attempt_count = r.attempt, last_status = r.http_status, updated_at = ${NOW('$8')},
           lease_token = NULL,
           status = CASE WHEN r.status = 'retrying' AND ${GONE} THEN 'dead_letter' ELSE r.status END,
           next_attempt_at = CASE WHEN ${GONE} THEN NULL ELSE ${NOW('$7')} + r.next_in END,
           run_at = CASE WHEN ${GONE} OR ${DISABLED} THEN NULL ELSE ${NOW('$7')} + r.next_in END
         FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::bigint[])
           AS r(id, token, status, attempt, http_status, next_in)
         WHERE d.id = r.id AND d.lease_token = r.token
         RETURNING d.seq, d.id, d.account_id, d.mode, d.status`,
        [
          items.map((i) => i.delivery_id),
          items.map((i) => i.lease_token),
          items.map((i) => i.status),
          items.map((i) => i.attempt.attempt),
          items.map((i) => i.attempt.http_status),
          // the retry's delay, not its time: it is due by the database's clock, like every claim
          // (on the caller's clock: its time, after 0)
          items.map((i) => (i.next_attempt_at === null ? null : this.clock === 'caller' ? i.next_attempt_at : Math.max(0, i.next_attempt_at - now))),
          this.clock === 'caller' ? 0 : null,
          this.at(now),
        ],
      );
      // results whose lease was lost belong to another claim now: not recorded
      const seqOf = new Map(finished.map((r) => [r.id as string, r.seq as number]));
      const kept = items.filter((i) => seqOf.has(i.delivery_id));
      if (kept.length === 0) return;
      await q(
        `INSERT INTO attempts (delivery_seq, attempt, outcome, http_status, latency_ms, error, response_excerpt, created_at)
         SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::int[], $5::int[], $6::text[], $7::text[], $8::bigint[])
         ON CONFLICT (delivery_seq, attempt) DO UPDATE SET outcome = excluded.outcome, http_status = excluded.http_status,
           latency_ms = excluded.latency_ms, error = excluded.error, response_excerpt = excluded.response_excerpt,
           created_at = excluded.created_at`,
        [
          kept.map((i) => seqOf.get(i.delivery_id)),
          kept.map((i) => i.attempt.attempt),
          kept.map((i) => i.attempt.outcome),
          kept.map((i) => i.attempt.http_status),
          kept.map((i) => i.attempt.latency_ms),
          kept.map((i) => pgText(i.attempt.error)),
          kept.map((i) => pgText(i.attempt.response_excerpt)),
          kept.map((i) => i.attempt.created_at),
        ],
      );
      // last: the counters' row lock is held only until the commit
      const byId = new Map(finished.map((r) => [r.id as string, r]));
      const stats = new StatsTally();
      for (const i of kept) {
        const f = byId.get(i.delivery_id)!;
        stats.attempt(f.account_id as string, f.mode as string, i.attempt.created_at, i.attempt.outcome, f.status as string);
      }
      await addStats(q, stats);
    }, true);
    return items.map(() => undefined);
  }

  async requeueDelivery(...a: Parameters<Store['requeueDelivery']>) {
    const r = await this.maintenance.requeueDelivery(...a);
    if (r === 'requeued') await this.notify(null);
    return r;
  }

  async requeueDeliveries(...a: Parameters<Store['requeueDeliveries']>): Promise<number> {
    const n = await this.maintenance.requeueDeliveries(...a);
    if (n > 0) await this.notify(null);
    return n;
  }

  prune(req: Parameters<Store['prune']>[0]) {
    return this.maintenance.prune(req);
  }

  upkeep() {
    return this.maintenance.upkeep();
  }

  /**
   * One short transaction per gated destination with due work: its row is locked (FOR UPDATE) so
   * processes claiming for it take turns, its leased deliveries are counted, and its rate state
   * moves on with what was claimed.
   */
  async claimGated(req: GatedClaimRequest): Promise<GatedClaim> {
    const out: GatedClaim = { claimed: [], nextAt: null, anyGates: false, inFlightBound: false };
    const gates = await this.work(
      `SELECT x.id, x.account_id, x.origin, EXISTS (SELECT 1 FROM deliveries WHERE gate = x.id AND run_at <= ${NOW('$1')})
         AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = x.account_id AND a.suspended_at IS NOT NULL) AS due
       FROM destinations x WHERE ${LIMITED}`,
      [this.at(req.now)],
    );
    out.anyGates = gates.length > 0;
    /** What this call already claimed per lane, origin and account: the caller's room is shared by its gates. */
    const used = new Map<string, number>();
    for (const gate of gates) {
      const left = req.limit - out.claimed.length;
      if (left <= 0) break;
      if (!gate.due) continue;
      const lane = { account_id: gate.account_id as string, origin: gate.origin as string };
      const keys = [`l ${lane.account_id} ${lane.origin}`, `o ${lane.origin}`, `a ${lane.account_id}`] as const;
      const r = req.room(lane);
      const room = Math.max(
        0,
        Math.min(left, r.lane - (used.get(keys[0]) ?? 0), r.origin - (used.get(keys[1]) ?? 0), r.account - (used.get(keys[2]) ?? 0)),
      );
      await this.tx(async (q) => {
        const [g] = await q(
          'SELECT rate_per_second, max_in_flight, rate_tat, (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS db_now FROM destinations WHERE id = $1 FOR UPDATE',
          [gate.id],
        );
        if (!g) return;
        // the gate's rate state, its leases and its claim all by the database's clock, read once the lock is ours
        const now = this.clock === 'caller' ? req.now : Number(g.db_now);
        const state = {
          perSecond: g.rate_per_second == null ? null : Number(g.rate_per_second),
          tat: Number(g.rate_tat),
          maxInFlight: g.max_in_flight == null ? null : Number(g.max_in_flight),
          leased: 0,
        };
        if (state.maxInFlight !== null) {
          const [c] = await q(
            'SELECT COUNT(*)::int AS n FROM deliveries WHERE gate = $1 AND run_at > $2 AND lease_token IS NOT NULL',
            [gate.id, now],
          );
          state.leased = c!.n as number;
        }
        const allow = gateAllowance(state, room, now);
        out.inFlightBound ||= allow.inFlightBound;
        // told to the dispatcher on its own clock: how long from now
        if (allow.rateNextAt !== null) out.nextAt = Math.min(out.nextAt ?? Infinity, onProcessClock(this.clock, allow.rateNextAt, now));
        if (allow.take <= 0) return;
        const rows = await q(
          `UPDATE deliveries d SET run_at = $1 + d.timeout_ms + $2, lease_token = $3, parked = false
           FROM (SELECT seq FROM deliveries WHERE gate = $4 AND run_at <= $1 ORDER BY run_at LIMIT $5 FOR UPDATE SKIP LOCKED) c
           WHERE d.seq = c.seq
           RETURNING ${CLAIMED_D}`,
          [now, req.leaseMarginMs, `${req.owner}.${++this.claimCounter}`, gate.id, allow.take, secretsCutoff(req)],
        );
        rows.sort((a, b) => (a.seq as number) - (b.seq as number));
        out.claimed.push(...rows.map(toClaimed));
        for (const key of keys) used.set(key, (used.get(key) ?? 0) + rows.length);
        if (state.perSecond !== null && rows.length > 0) {
          await q('UPDATE destinations SET rate_tat = $2 WHERE id = $1', [gate.id, tatAfter(state.perSecond, state.tat, now, rows.length)]);
        }
      }, true);
    }
    return out;
  }

  async countPendingDeliveries(): Promise<{ queued: number; retrying: number; dead_letter: number }> {
    const out = { queued: 0, retrying: 0, dead_letter: 0 };
    const rows = await this.q(
      `SELECT status, COUNT(*)::int AS n FROM deliveries WHERE status IN ('queued', 'retrying', 'dead_letter') GROUP BY status`,
    );
    for (const r of rows) out[r.status as keyof typeof out] = r.n as number;
    return out;
  }

  // Signing secrets

  async getSigningSecrets(accountId: string, mode: KeyMode, retiredAfter: number): Promise<SigningSecret[]> {
    const cutoff = fromNow(this.clock, retiredAfter);
    return (await this.q(
      `SELECT secret, created_at, retired_at FROM signing_secrets
       WHERE account_id = $1 AND mode = $2 AND (retired_at IS NULL OR retired_at > ${NOW('$3')} + $4)
       ORDER BY (retired_at IS NULL) DESC, created_at DESC, id DESC`,
      // the cut-off on the database's clock (clock.ts): retired_at is stamped on it
      [accountId, mode, cutoff.base, cutoff.offset],
    )) as unknown as SigningSecret[];
  }

  async ensureSigningSecret(accountId: string, mode: KeyMode, candidate: SigningSecret): Promise<SigningSecret> {
    await this.q(
      `INSERT INTO signing_secrets (account_id, mode, secret, created_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (account_id, mode) WHERE retired_at IS NULL DO NOTHING`,
      [accountId, mode, candidate.secret, candidate.created_at],
    );
    const [current] = await this.q(
      'SELECT secret, created_at, retired_at FROM signing_secrets WHERE account_id = $1 AND mode = $2 AND retired_at IS NULL',
      [accountId, mode],
    );
    return current as unknown as SigningSecret;
  }

  async rotateSigningSecret(accountId: string, mode: KeyMode, next: SigningSecret): Promise<void> {
    await this.tx(async (q) => {
      // retired on the database's clock, as every process compares it (clock.ts)
      await q(`UPDATE signing_secrets SET retired_at = ${NOW('$3')} WHERE account_id = $1 AND mode = $2 AND retired_at IS NULL`, [
        accountId,
        mode,
        this.at(next.created_at),
      ]);
      await q('INSERT INTO signing_secrets (account_id, mode, secret, created_at) VALUES ($1, $2, $3, $4)', [
        accountId,
        mode,
        next.secret,
        next.created_at,
      ]);
    });
  }

  // Destinations, subscriptions and events live in postgres-events.ts.
  createDestination(...a: Parameters<Store['createDestination']>) {
    return this.ev.createDestination(...a);
  }
  getDestination(...a: Parameters<Store['getDestination']>) {
    return this.ev.getDestination(...a);
  }
  listDestinations(...a: Parameters<Store['listDestinations']>) {
    return this.ev.listDestinations(...a);
  }
  updateDestination(...a: Parameters<Store['updateDestination']>) {
    return this.ev.updateDestination(...a);
  }
  disableDestination(...a: Parameters<Store['disableDestination']>) {
    return this.ev.disableDestination(...a);
  }
  deleteDestination(...a: Parameters<Store['deleteDestination']>) {
    return this.ev.deleteDestination(...a);
  }
  getDestinationSecrets(...a: Parameters<Store['getDestinationSecrets']>) {
    return this.ev.getDestinationSecrets(...a);
  }
  rotateDestinationSecret(...a: Parameters<Store['rotateDestinationSecret']>) {
    return this.ev.rotateDestinationSecret(...a);
  }
  createSubscription(...a: Parameters<Store['createSubscription']>) {
    return this.ev.createSubscription(...a);
  }
  listSubscriptions(...a: Parameters<Store['listSubscriptions']>) {
    return this.ev.listSubscriptions(...a);
  }
  deleteSubscription(...a: Parameters<Store['deleteSubscription']>) {
    return this.ev.deleteSubscription(...a);
  }
  subscribedDestinations(...a: Parameters<Store['subscribedDestinations']>) {
    return this.ev.subscribedDestinations(...a);
  }
  getEvent(...a: Parameters<Store['getEvent']>) {
    return this.ev.getEvent(...a);
  }
  listEvents(...a: Parameters<Store['listEvents']>) {
    return this.ev.listEvents(...a);
  }

  // The dashboard's login tokens, sessions and home-page counts live in dashboard.ts.
  private dashboardRepo: PgDashboard | null = null;
  private get dashboard(): PgDashboard {
    return (this.dashboardRepo ??= new PgDashboard(
      (text, params) => this.q(text, params),
      (fn) => this.tx(fn),
      this.clock,
    ));
  }
  createLoginToken(...a: Parameters<Store['createLoginToken']>) {
    return this.dashboard.createLoginToken(...a);
  }
  redeemLoginToken(...a: Parameters<Store['redeemLoginToken']>) {
    return this.dashboard.redeemLoginToken(...a);
  }
  getDashboardSession(...a: Parameters<Store['getDashboardSession']>) {
    return this.dashboard.getSession(...a);
  }
  deleteDashboardSession(...a: Parameters<Store['deleteDashboardSession']>) {
    return this.dashboard.deleteSession(...a);
  }
  switchDashboardSessionMode(...a: Parameters<Store['switchDashboardSessionMode']>) {
    return this.dashboard.switchSessionMode(...a);
  }
  dashboardOverview(...a: Parameters<Store['dashboardOverview']>) {
    return this.dashboard.overview(...a);
  }
}

/** All the deliveries of one commit in one statement. */
async function insertDeliveries(q: Querier, deliveries: readonly NewDelivery[], clock: PgClock): Promise<void> {
  // due now by the database's clock (on the caller's: at its created_at)
  const DUE = 'CASE WHEN $18::boolean THEN harepost_now_ms() ELSE created_at END';
  const rows = deliveries.map(deliveryParams);
  const col = <K extends keyof (typeof rows)[number]>(k: K) => rows.map((r) => r[k]);
  await q(
    `INSERT INTO deliveries (id, account_id, mode, target, origin, method, headers, body, policy, timeout_ms,
       idempotency_key, metadata, sign, status, created_at, updated_at, next_attempt_at, run_at,
       event_id, event_type, destination_id, gate)
     SELECT id, account_id, mode, target, origin, method, headers, body, policy, timeout_ms,
       idempotency_key, metadata, sign, 'queued', created_at, created_at, ${DUE}, ${DUE},
       event_id, event_type, destination_id, ${gateOf('t.destination_id')}
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bytea[],
       $9::text[], $10::int[], $11::text[], $12::text[], $13::bool[], $14::bigint[], $15::text[], $16::text[], $17::text[])
       WITH ORDINALITY AS t(id, account_id, mode, target, origin, method, headers, body, policy, timeout_ms,
       idempotency_key, metadata, sign, created_at, event_id, event_type, destination_id, n)
     ORDER BY n`,
    [
      col('id'),
      col('account_id'),
      col('mode'),
      col('target'),
      col('origin'),
      col('method'),
      col('headers'),
      col('body'),
      col('policy'),
      col('timeout_ms'),
      col('idempotency_key'),
      col('metadata'),
      deliveries.map((d) => d.sign),
      col('created_at'),
      col('event_id'),
      col('event_type'),
      col('destination_id'),
      clock === 'database',
    ],
  );
}
