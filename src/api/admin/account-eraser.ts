/**
 * Erases accounts in the background, one batch (one short transaction) at a time, yielding to
 * everything else between batches — so a big account's erasure never stalls the API or the
 * dispatcher. The store remembers which erasures were asked (accounts.erasing_since): one this
 * process did not finish (it stopped, or died) is taken up again by `resumeUnfinished` at start,
 * or by a repeated DELETE. Two processes erasing the same account at once only share the work.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { AccountsStore } from '../../store/store.js';

export interface EraserLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface AccountEraserOptions {
  store: AccountsStore;
  log?: EraserLog;
  /** Rows per batch (deliveries count with their attempts); default 1,000. */
  batchSize?: number;
}

/** After a failed batch (the database unreachable, say): the wait before the next try, doubling up to 30 s. */
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;
/** When a batch found only rows it must not touch yet (an attempt result being recorded): the wait before looking again. */
const BUSY_WAIT_MS = 100;

export class AccountEraser {
  private readonly running = new Map<string, Promise<void>>();
  private stopped = false;
  private readonly batchSize: number;

  constructor(private readonly options: AccountEraserOptions) {
    this.batchSize = options.batchSize ?? 1000;
  }

  /** Erases what is left of `accountId` (already marked by Store.beginAccountErasure); joins an erasure under way. */
  erase(accountId: string): Promise<void> {
    const under = this.running.get(accountId);
    if (under) return under;
    const run = this.run(accountId).finally(() => this.running.delete(accountId));
    this.running.set(accountId, run);
    return run;
  }

  /** Takes up every erasure that was asked and not finished (at start). */
  async resumeUnfinished(): Promise<void> {
    const ids = await this.options.store.listErasingAccounts();
    for (const id of ids) void this.erase(id);
    if (ids.length > 0) this.options.log?.info({ accounts: ids }, 'resuming account erasures');
  }

  /** Stops after the batches in progress; what is left is erased by the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.running.values()]);
  }

  private async run(accountId: string): Promise<void> {
    const started = Date.now();
    let rows = 0;
    let retryMs = RETRY_MIN_MS;
    while (!this.stopped) {
      let step;
      try {
        step = await this.options.store.eraseAccountStep(accountId, this.batchSize);
      } catch (err) {
        this.options.log?.warn({ account_id: accountId, err: err instanceof Error ? err.message : String(err), retry_ms: retryMs }, 'account erasure batch failed; trying again');
        await sleep(retryMs);
        retryMs = Math.min(RETRY_MAX_MS, retryMs * 2);
        continue;
      }
      retryMs = RETRY_MIN_MS;
      rows += step.deleted;
      if (step.done) {
        this.options.log?.info({ account_id: accountId, rows, ms: Date.now() - started }, 'account erased');
        return;
      }
      // the next batch on a later turn of the event loop: requests and attempts go first
      await (step.deleted === 0 ? sleep(BUSY_WAIT_MS) : new Promise<void>((resolve) => setImmediate(resolve)));
    }
  }
}
