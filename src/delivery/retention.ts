/**
 * Retention: in the background, deletes final deliveries (with their attempts) and events older
 * than HAREPOST_RETENTION_DAYS, and Idempotency-Key records older than 24 h — in small batches
 * with a pause between them, so a large prune never stalls sends or claims. On PostgreSQL the ages
 * are measured on the database's clock (store.ts PruneRequest), whatever this process's says.
 */
import type { PruneResult, UpkeepStore } from '../store/store.js';

const DAY_MS = 24 * 60 * 60 * 1000;
export const IDEMPOTENCY_RETENTION_MS = DAY_MS;

export interface RetentionOptions {
  store: UpkeepStore;
  retentionDays: number;
  intervalMs: number;
  batch?: number;
  logger: { info(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
  now?: () => number;
}

export class RetentionPruner {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<PruneResult> | null = null;
  private stopped = false;
  private readonly now: () => number;
  private readonly batch: number;

  constructor(private readonly opts: RetentionOptions) {
    this.now = opts.now ?? Date.now;
    this.batch = opts.batch ?? 500;
  }

  start(): void {
    this.timer = setInterval(() => void this.runOnce().catch(() => undefined), this.opts.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One pass: batches until nothing past its age is left. Concurrent calls share the pass. */
  runOnce(): Promise<PruneResult> {
    this.running ??= this.pass().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async pass(): Promise<PruneResult> {
    const total: PruneResult = { deliveries: 0, events: 0, idempotency_keys: 0 };
    const now = this.now();
    const before = now - this.opts.retentionDays * DAY_MS;
    try {
      while (!this.stopped) {
        const r = await this.opts.store.prune({
          deliveriesBefore: before,
          eventsBefore: before,
          idempotencyBefore: now - IDEMPOTENCY_RETENTION_MS,
          limit: this.batch,
        });
        total.deliveries += r.deliveries;
        total.events += r.events;
        total.idempotency_keys += r.idempotency_keys;
        if (r.deliveries < this.batch && r.events < this.batch && r.idempotency_keys < this.batch) break;
        await new Promise((resolve) => setTimeout(resolve, 10)); // leave room for sends and claims
      }
      if (total.deliveries + total.events + total.idempotency_keys > 0) this.opts.logger.info({ pruned: total }, 'retention');
    } catch (err) {
      this.opts.logger.error({ err: (err as Error).message }, 'retention pass failed; next pass retries');
    }
    return total;
  }
}
