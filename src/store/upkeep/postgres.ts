/**
 * Upkeep on PostgreSQL: retention's pruning of what is past its age (by the database's clock,
 * postgres/clock.ts), the folding of ended sessions' backlog counters that runs with it, and
 * VACUUM / ANALYZE of Harepost's tables whose dead row versions passed vacuum-policy.ts's thresholds.
 */
import { MINUTE_MS } from '../delivery-stats.js';
import type { PruneRequest, PruneResult, UpkeepAction, UpkeepStore } from '../store.js';
import { type UpkeepThresholds, DEFAULT_UPKEEP, upkeepPlan } from '../vacuum-policy.js';
import type { Querier, Transact } from '../postgres/querier.js';
import { NOW, type PgClock, fromNow } from '../postgres/clock.js';

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

/** Held by the one process folding account_backlog's counters ("hpbl"). */
const BACKLOG_COMPACTION_LOCK = 0x6870_626c;

export class PostgresUpkeep implements UpkeepStore {
  constructor(
    private readonly q: Querier,
    private readonly tx: Transact,
    private readonly clock: PgClock = 'database',
  ) {}

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
    // worker's result, queue/postgres.ts), the cutoff as far back from the database's now as the caller's
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
          // recorded at the database's now (queue/postgres.ts), aged by the database's clock
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
