/**
 * When a table needs VACUUM or ANALYZE, from its activity counters (PostgreSQL's
 * pg_stat_user_tables). The queue table churns: every claim, result and park writes a new row
 * version, and each old version stays in every index until a VACUUM removes it — claims then walk
 * ever more dead index entries and get slower by the minute. PostgreSQL's autovacuum is meant to
 * keep up, but it may be turned off, and its default (20 % of the table dead) lets a queue table
 * pile up hundreds of thousands of dead versions. Harepost's upkeep checks often and acts early.
 */
export interface TableActivity {
  table: string;
  /** Live and dead row versions, as the statistics see them. */
  live: number;
  dead: number;
  /** Rows changed since the table was last analyzed. */
  modifiedSinceAnalyze: number;
  /** Whether it was ever analyzed (by anyone). */
  analyzed: boolean;
}

export interface UpkeepThresholds {
  /** VACUUM at this many dead versions, or … */
  minDead: number;
  /** … at this share of the live ones, whichever is more. */
  deadFraction: number;
  /** ANALYZE at this many changed rows, or at this share of the live ones, whichever is more. */
  minModified: number;
  modifiedFraction: number;
}

export const DEFAULT_UPKEEP: UpkeepThresholds = { minDead: 2000, deadFraction: 0.02, minModified: 5000, modifiedFraction: 0.1 };

export interface UpkeepPlan {
  vacuum: boolean;
  analyze: boolean;
}

export function upkeepPlan(t: TableActivity, th: UpkeepThresholds = DEFAULT_UPKEEP): UpkeepPlan {
  const vacuum = t.dead >= Math.max(th.minDead, th.deadFraction * t.live);
  const analyze =
    (!t.analyzed && t.live + t.dead > 0) || t.modifiedSinceAnalyze >= Math.max(th.minModified, th.modifiedFraction * t.live);
  return { vacuum, analyze };
}
