/** Adding a commit's tallies to the per-minute counters (delivery_stats) on the embedded store. */
import type { Database as Db } from 'better-sqlite3';
import { STATS_COUNTERS, type StatsTally } from '../delivery-stats.js';

/** One prepared upsert; call the returned function inside the commit whose changes it counts. */
export function statsWriter(db: Db): (stats: StatsTally) => void {
  const upsert = db.prepare(
    `INSERT INTO delivery_stats (account_id, mode, minute, ${STATS_COUNTERS.join(', ')})
     VALUES (:account_id, :mode, :minute, ${STATS_COUNTERS.map((c) => ':' + c).join(', ')})
     ON CONFLICT (account_id, mode, minute, shard) DO UPDATE SET
       ${STATS_COUNTERS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`,
  );
  return (stats) => {
    for (const row of stats.all) upsert.run(row);
  };
}
