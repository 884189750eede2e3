/**
 * Delivery history on PostgreSQL: a delivery with its attempts, the account's list newest first,
 * and replay (re-queueing final deliveries, within the account's max_pending_deliveries); a
 * replay that re-queued anything wakes the dispatchers of every process (the store's `wake`).
 */
import { decodeDeliveryCursor, encodeDeliveryCursor } from '../cursor.js';
import { DELIVERY_COLUMNS, gateOf, toDelivery } from '../rows.js';
import { type LimitDefaults, backlogAllows, effectiveLimits } from '../../core/limits.js';
import {
  type AttemptRecord,
  BacklogFullError,
  type DeliveryPage,
  type DeliveryWithAttempts,
  type HistoryStore,
  type KeyMode,
  type ListDeliveriesQuery,
  type RequeueCheck,
  type RequeueFilter,
} from '../store.js';
import { type LockedBacklog, lockBacklogs } from '../postgres/limits.js';
import type { Querier, Transact } from '../postgres/querier.js';
import { NOW, type PgClock, nowParam } from '../postgres/clock.js';
import { DISABLED, GONE } from '../postgres/destination-state.js';

/**
 * A fresh budget, due now by the database's clock (clock.ts: parameter `at`; updated_at, shown only, is $1) — or parked, when its destination is disabled. It has had attempts,
 * so it is `retrying`, never `queued` (which means no attempt has finished yet).
 */
const REQUEUE = (at: string) => `status = CASE WHEN d.attempt_count > 0 THEN 'retrying' ELSE 'queued' END, attempt_base = d.attempt_count, error = NULL, updated_at = $1::bigint,
  next_attempt_at = ${NOW(at)}, run_at = CASE WHEN ${DISABLED} THEN NULL ELSE ${NOW(at)} END, lease_token = NULL,
  parked = false, gate = ${gateOf('d.destination_id')}`;

/** What a bulk replay re-queues: its WHERE on deliveries `d`, its parameters numbered from $`first`. */
function requeueWhere(accountId: string, mode: KeyMode, f: RequeueFilter, first: number): { where: string; values: unknown[] } {
  const values: unknown[] = [];
  const where: string[] = [];
  const add = (sql: string, value: unknown) => {
    values.push(value);
    where.push(sql.replace('?', `$${first + values.length - 1}`));
  };
  add('d.account_id = ?', accountId);
  add('d.mode = ?', mode);
  add('d.status = ANY(?::text[])', [...f.statuses]);
  where.push(`NOT ${GONE}`);
  if (f.destination_id !== undefined) add('d.destination_id = ?', f.destination_id);
  if (f.event_id !== undefined) add('d.event_id = ?', f.event_id);
  if (f.created_before !== undefined) add('d.created_at < ?', f.created_before);
  if (f.created_after !== undefined) add('d.created_at > ?', f.created_after);
  if (f.updated_before !== undefined) add('d.updated_at < ?', f.updated_before);
  return { where: where.join(' AND '), values };
}

/** The account's lock (held until the transaction ends) and its limits and pending deliveries. */
async function lockedBacklog(q: Querier, accountId: string): Promise<LockedBacklog> {
  return (await lockBacklogs(q, [accountId])).get(accountId) ?? { own: null, pending: 0 };
}

/** Throws BacklogFullError (a replay's) unless `adding` more fit the account's pending deliveries. */
function admit(backlog: LockedBacklog, adding: number, defaults: LimitDefaults): void {
  const max = effectiveLimits(backlog.own, defaults).max_pending_deliveries;
  if (!backlogAllows(backlog.pending, adding, max)) throw BacklogFullError.ofReplay(backlog.pending, adding, max);
}

export class PostgresHistory implements HistoryStore {
  /** @param wake tells every process's dispatchers that work may be due (a replay's) */
  constructor(
    private readonly q: Querier,
    private readonly tx: Transact,
    private readonly wake: () => Promise<void>,
    private readonly clock: PgClock = 'database',
  ) {}

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

  async requeueDelivery(
    accountId: string,
    mode: KeyMode,
    id: string,
    now: number,
    limits?: LimitDefaults,
  ): Promise<'requeued' | 'conflict' | 'not_found'> {
    const r = await this.requeueOne(accountId, mode, id, now, limits);
    if (r === 'requeued') await this.wake();
    return r;
  }

  async requeueDeliveries(
    accountId: string,
    mode: KeyMode,
    f: RequeueFilter,
    limit: number,
    now: number,
    check?: RequeueCheck,
  ): Promise<number> {
    const n = await this.requeueBatch(accountId, mode, f, limit, now, check);
    if (n > 0) await this.wake();
    return n;
  }

  /**
   * With `limits`, in one transaction that first takes the account's lock and reads its pending
   * deliveries the way a commit of new sends does (lockBacklogs): a send or another replay of the
   * account waits for this one and then counts what it re-queued. One that would take the account
   * past max_pending_deliveries is rolled back.
   */
  private async requeueOne(
    accountId: string,
    mode: KeyMode,
    id: string,
    now: number,
    limits?: LimitDefaults,
  ): Promise<'requeued' | 'conflict' | 'not_found'> {
    const run = async (q: Querier) => {
      const backlog = limits ? await lockedBacklog(q, accountId) : null;
      const done = await q(
        `UPDATE deliveries d SET ${REQUEUE('$5')}
         WHERE d.id = $2 AND d.account_id = $3 AND d.mode = $4 AND d.status IN ('dead_letter', 'rejected') AND NOT ${GONE}
         RETURNING d.id`,
        [now, id, accountId, mode, nowParam(this.clock, now)],
      );
      if (done.length > 0) {
        if (backlog) admit(backlog, 1, limits!); // throws: rolled back, nothing re-queued
        return 'requeued' as const;
      }
      const found = await q('SELECT 1 FROM deliveries WHERE id = $1 AND account_id = $2 AND mode = $3', [id, accountId, mode]);
      return found.length > 0 ? ('conflict' as const) : ('not_found' as const);
    };
    return limits ? this.tx(run) : run(this.q);
  }

  private async requeueBatch(
    accountId: string,
    mode: KeyMode,
    f: RequeueFilter,
    limit: number,
    now: number,
    check?: RequeueCheck,
  ): Promise<number> {
    const matching = requeueWhere(accountId, mode, f, 4);
    const batch = {
      sql: `UPDATE deliveries d SET ${REQUEUE('$3')}
        FROM (SELECT d.seq FROM deliveries d WHERE ${matching.where} ORDER BY d.seq LIMIT $2 FOR UPDATE SKIP LOCKED) c
        WHERE d.seq = c.seq RETURNING d.seq`,
      params: [now, limit, nowParam(this.clock, now), ...matching.values],
    };
    if (!check) return (await this.q(batch.sql, batch.params)).length;
    return this.tx(async (q) => {
      const backlog = await lockedBacklog(q, accountId);
      if (check.whole) {
        // the whole replay, not just this batch: admitted all or nothing before anything moves
        const all = requeueWhere(accountId, mode, f, 1);
        const [counted] = await q(`SELECT COUNT(*)::bigint AS n FROM deliveries d WHERE ${all.where}`, all.values);
        admit(backlog, Number(counted!.n), check.limits);
      }
      const n = (await q(batch.sql, batch.params)).length;
      admit(backlog, n, check.limits); // throws: rolled back, nothing of this batch re-queued
      return n;
    });
  }
}
