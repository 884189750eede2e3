/** Keeping the database in shape: retention's pruning of old rows, and reclaiming dead row versions. */
import { areaMethods } from '../compose.js';

/**
 * What is past its age. PostgreSQL reads each time as a distance back from the caller's now and
 * applies it to the database's clock (postgres/clock.ts), so a pruner whose clock is off prunes
 * what the others would.
 */
export interface PruneRequest {
  /** Final deliveries (delivered, rejected, dead_letter) last changed before this go, with their attempts. */
  deliveriesBefore: number;
  eventsBefore: number;
  idempotencyBefore: number;
  /** Most rows of each kind in this batch. */
  limit: number;
}

export interface PruneResult {
  deliveries: number;
  events: number;
  idempotency_keys: number;
}

/** One table the storage upkeep vacuumed or analyzed. */
export interface UpkeepAction {
  table: string;
  vacuumed: boolean;
  analyzed: boolean;
  /** Dead row versions the statistics counted before. */
  dead: number;
  ms: number;
}

/** Retention and storage upkeep (sqlite.ts, postgres.ts beside this file). */
export interface UpkeepStore {
  /** Deletes one batch of what retention no longer keeps; returns what it deleted. */
  prune(request: PruneRequest): Promise<PruneResult>;
  /**
   * Reclaims what updates and deletes left behind, where the database needs it done: on
   * PostgreSQL, VACUUM (and ANALYZE) of Harepost's tables whose dead row versions passed the
   * thresholds of vacuum-policy.ts, skipping a table another process is vacuuming. SQLite reuses
   * freed pages itself: nothing to do. Returns what it did.
   */
  upkeep(): Promise<UpkeepAction[]>;
}

/** UpkeepStore's methods, named once for both dialects' stores (see compose.ts). */
export const UPKEEP_STORE_METHODS = areaMethods<UpkeepStore>()(['prune', 'upkeep']);
