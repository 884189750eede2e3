/**
 * Storage upkeep: every HAREPOST_VACUUM_INTERVAL_MS, asks the store to reclaim what the queue's
 * churn left behind (on PostgreSQL, VACUUM of tables past their dead-row thresholds — see
 * store/vacuum-policy.ts). Without it, on a server whose autovacuum is off or lagging, every claim
 * walks more dead index entries than the last and delivery latency climbs for as long as it runs.
 * One pass at a time; a failed pass is logged and the next one tries again.
 */
import type { Store, UpkeepAction } from '../store/store.js';

export interface StorageUpkeepOptions {
  store: Pick<Store, 'upkeep'>;
  intervalMs: number;
  logger: { debug(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

/** A VACUUM that takes longer than this is worth telling the operator about. */
const SLOW_MS = 10_000;

export class StorageUpkeep {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<UpkeepAction[]> | null = null;

  constructor(private readonly opts: StorageUpkeepOptions) {}

  start(): void {
    if (this.timer || this.opts.intervalMs <= 0) return;
    this.timer = setInterval(() => void this.runOnce(), this.opts.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass; a call while one runs shares it. Never rejects. */
  runOnce(): Promise<UpkeepAction[]> {
    this.running ??= this.pass().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async pass(): Promise<UpkeepAction[]> {
    try {
      const done = await this.opts.store.upkeep();
      for (const a of done) {
        const line = { table: a.table, vacuumed: a.vacuumed, analyzed: a.analyzed, dead_rows: a.dead, ms: a.ms };
        if (a.ms >= SLOW_MS) this.opts.logger.warn(line, 'storage upkeep: slow vacuum');
        else this.opts.logger.debug(line, 'storage upkeep');
      }
      return done;
    } catch (err) {
      this.opts.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'storage upkeep failed; the next pass retries');
      return [];
    }
  }
}
