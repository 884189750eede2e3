/** Replay (re-queueing final deliveries) and retention (pruning what is past its age), on PostgreSQL. */
import { MINUTE_MS } from '../delivery-stats.js';
import { gateOf } from '../rows.js';
import { type LimitDefaults, backlogAllows, effectiveLimits } from '../../core/limits.js';
import {
  BacklogFullError,
  type KeyMode,
  type PruneRequest,
  type PruneResult,
  type RequeueCheck,
  type RequeueFilter,
  type UpkeepAction,
} from '../store.js';
import { type LockedBacklog, lockBacklogs } from './limits.js';
import { type UpkeepThresholds, DEFAULT_UPKEEP, upkeepPlan } from '../vacuum-policy.js';
import type { Querier } from './querier.js';
import { NOW, type PgClock, fromNow, nowParam } from './clock.js';

/** Harepost's tables whose rows are updated or deleted: the ones that collect dead row versions. */
const CHURNING_TABLES = [
  'deliveries',
  'attempts',
  'account_backlog',
  'events',
  'destinations',
  'delivery_stats',
  'idempotency_keys',
  'dashboard_login_tokens',
  'dashboard_sessions',
];

const GONE = `(d.destination_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM destinations x WHERE x.id = d.destination_id))`;
const DISABLED = `(d.destination_id IS NOT NULL AND EXISTS (
  SELECT 1 FROM destinations x WHERE x.id = d.destination_id AND NOT x.enabled))`;
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

/** Held by the one process folding account_backlog's counters ("hpbl"). */
const BACKLOG_COMPACTION_LOCK = 0x6870_626c;

export class PgMaintenance {
  constructor(
    private readonly q: Querier,
    private readonly tx: <T>(fn: (q: Querier) => Promise<T>) => Promise<T>,
    private readonly clock: PgClock = 'database',
  ) {}

  /**
   * With `limits`, in one transaction that first takes the account's lock and reads its pending
   * deliveries the way a commit of new sends does (lockBacklogs): a send or another replay of the
   * account waits for this one and then counts what it re-queued. One that would take the account
   * past max_pending_deliveries is rolled back.
   */
  async requeueDelivery(
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

  async requeueDeliveries(
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

  /**
   * VACUUM / ANALYZE of the churning tables in this schema that passed the thresholds, one at a
   * time. SKIP_LOCKED: a table another process (or autovacuum) is vacuuming is left to it.
   */
  async upkeep(thresholds: UpkeepThresholds = DEFAULT_UPKEEP): Promise<UpkeepAction[]> {
    const tables = await this.q(
      `SELECT relname, format('%I.%I', schemaname, relname) AS qualified, n_live_tup AS live, n_dead_tup AS dead,
         n_mod_since_analyze AS modified, (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL) AS analyzed
       FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = ANY($1::text[])
       ORDER BY n_dead_tup DESC`,
      [CHURNING_TABLES],
    );
    const done: UpkeepAction[] = [];
    for (const t of tables) {
      const plan = upkeepPlan(
        {
          table: t.relname as string,
          live: Number(t.live),
          dead: Number(t.dead),
          modifiedSinceAnalyze: Number(t.modified),
          analyzed: t.analyzed as boolean,
        },
        thresholds,
      );
      if (!plan.vacuum && !plan.analyze) continue;
      const started = performance.now();
      const options = ['SKIP_LOCKED', ...(plan.analyze ? ['ANALYZE'] : [])].join(', ');
      // the name comes from format('%I.%I') above; VACUUM cannot take it as a parameter
      await this.q(plan.vacuum ? `VACUUM (${options}) ${t.qualified as string}` : `ANALYZE (SKIP_LOCKED) ${t.qualified as string}`);
      done.push({
        table: t.relname as string,
        vacuumed: plan.vacuum,
        analyzed: plan.analyze,
        dead: Number(t.dead),
        ms: Math.round(performance.now() - started),
      });
    }
    return done;
  }

  /**
   * Folds the pending-delivery counters of database sessions that have ended into each account's
   * shard 0 (account_backlog, migration 11), so an account's count stays a sum of a few rows. A
   * live session's row is never touched: its transactions never wait for this. One process at a
   * time (the others skip). Runs with retention.
   */
  async compactBacklog(): Promise<void> {
    await this.tx(async (q) => {
      const [lock] = await q('SELECT pg_try_advisory_xact_lock($1) AS mine', [BACKLOG_COMPACTION_LOCK]);
      if (!lock?.mine) return;
      await q(
        `WITH gone AS (
           DELETE FROM account_backlog b WHERE b.shard <> 0
             AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = b.shard)
           RETURNING b.account_id, b.pending)
         INSERT INTO account_backlog (account_id, shard, pending)
           SELECT account_id, 0, SUM(pending) FROM gone GROUP BY account_id ORDER BY account_id
         ON CONFLICT (account_id, shard) DO UPDATE SET pending = account_backlog.pending + excluded.pending`,
      );
    });
  }

  async prune(req: PruneRequest): Promise<PruneResult> {
    await this.compactBacklog();
    // a finished delivery's age by the database's clock: its updated_at is the database's (the
    // worker's result, postgres-store.ts), the cutoff as far back from the database's now as the caller's
    const cutoff = fromNow(this.clock, req.deliveriesBefore);
    const eventCutoff = fromNow(this.clock, req.eventsBefore);
    const keyCutoff = fromNow(this.clock, req.idempotencyBefore);
    return this.tx(async (q) => {
      const old = await q(
        `SELECT seq FROM deliveries WHERE status IN ('delivered', 'rejected', 'dead_letter') AND updated_at < ${NOW('$3')} + $1::bigint
         LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [cutoff.offset, req.limit, cutoff.base],
      );
      const seqs = old.map((r) => r.seq as number);
      await q('DELETE FROM attempts WHERE delivery_seq = ANY($1::bigint[])', [seqs]);
      const deliveries = (await q('DELETE FROM deliveries WHERE seq = ANY($1::bigint[]) RETURNING seq', [seqs])).length;
      // the counters' minutes kept as long as the deliveries: the cutoff on the database's clock
      // (as far back from its now as the caller's is from its own), like the deliveries' above
      await q(
        `DELETE FROM delivery_stats WHERE ctid IN (
           SELECT ctid FROM delivery_stats WHERE minute < (${NOW('$4')} + $1::bigint) / $3::bigint LIMIT $2 FOR UPDATE SKIP LOCKED)`,
        [cutoff.offset, req.limit, MINUTE_MS, cutoff.base],
      );
      const events = (
        await q(
          // an event stays while any delivery of it is kept: its deliveries read their body from it
          // its age by the database's clock, the cutoff (computed once: events_by_age bounds it) as
          // far back from the database's now as the caller's is from its own
          `DELETE FROM events WHERE seq IN (SELECT e.seq FROM events e WHERE e.created_at < ${NOW('$3')} + $1::bigint AND NOT EXISTS (
             SELECT 1 FROM deliveries d WHERE d.account_id = e.account_id AND d.mode = e.mode AND d.event_id = e.id)
           LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING seq`,
          [eventCutoff.offset, req.limit, eventCutoff.base],
        )
      ).length;
      const idempotency_keys = (
        await q(
          // recorded at the database's now (postgres-store.ts), aged by the database's clock
          `DELETE FROM idempotency_keys WHERE (account_id, mode, key) IN (
             SELECT account_id, mode, key FROM idempotency_keys WHERE created_at < ${NOW('$3')} + $1::bigint LIMIT $2 FOR UPDATE SKIP LOCKED)
           RETURNING key`,
          [keyCutoff.offset, req.limit, keyCutoff.base],
        )
      ).length;
      return { deliveries, events, idempotency_keys };
    });
  }
}
