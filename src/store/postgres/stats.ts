/** Adding a commit's tallies to the per-minute counters (delivery_stats) on PostgreSQL. */
import { STATS_COUNTERS, type StatsTally } from '../delivery-stats.js';
import type { Querier } from './querier.js';

/** delivery_stats rows per (account, mode, minute): concurrent commits pick one at random. */
const STATS_SHARDS = 8;

/** Adds a commit's tallies to delivery_stats, in one statement (inside that commit). */
export async function addStats(q: Querier, stats: StatsTally): Promise<void> {
  const upsert = statsUpsert(stats);
  if (upsert) await q(upsert.text, upsert.params);
}

/** addStats' statement, to join to others (queue/postgres-inserts.ts joinWrites); null when there is nothing to add. */
export function statsUpsert(stats: StatsTally): { text: string; params: unknown[] } | null {
  const rows = stats.all;
  if (rows.length === 0) return null;
  const counters = STATS_COUNTERS.map((c, i) => ({ c, param: `$${i + 5}::int[]` }));
  return {
    text: `INSERT INTO delivery_stats (account_id, mode, minute, shard, ${STATS_COUNTERS.join(', ')})
     SELECT a, m, t, $4::int, ${STATS_COUNTERS.map((c) => `u.${c}`).join(', ')}
     FROM unnest($1::text[], $2::text[], $3::bigint[], ${counters.map((x) => x.param).join(', ')})
       AS u(a, m, t, ${STATS_COUNTERS.join(', ')})
     ORDER BY 1, 2, 3
     ON CONFLICT (account_id, mode, minute, shard) DO UPDATE SET
       ${STATS_COUNTERS.map((c) => `${c} = delivery_stats.${c} + excluded.${c}`).join(', ')}`,
    params: [
      rows.map((r) => r.account_id),
      rows.map((r) => r.mode),
      rows.map((r) => r.minute),
      Math.floor(Math.random() * STATS_SHARDS),
      ...STATS_COUNTERS.map((c) => rows.map((r) => r[c])),
    ],
  };
}
