/**
 * Wake-ups of the dispatchers on PostgreSQL: this process's listeners (an EventEmitter, told at
 * once) and every other process's, through NOTIFY on the schema's work channel, which each
 * process LISTENs on with a connection of its own (connection.ts WorkListener, started by the
 * first onWork). Shared by the areas that make work due: the delivery queue (new sends and
 * events, released claims), destinations (re-enabled), accounts (resumed) and history (replays).
 */
import { EventEmitter } from 'node:events';
import type { Lane } from '../store.js';
import { encodeLanes } from '../work-lanes.js';
import { type PgSettings, WORK_CHANNEL, WorkListener } from './connection.js';
import type { Querier } from './querier.js';

export class PgWakeUps {
  /** The NOTIFY channel of this store's schema. */
  readonly channel: string;
  private readonly emitter = new EventEmitter();
  private listener: WorkListener | null = null;
  private stopped = false;

  /** @param q one statement on the store's pool (the NOTIFY of notify()) */
  constructor(
    private readonly settings: PgSettings,
    private readonly q: Querier,
  ) {
    this.channel = settings.schema ? `${WORK_CHANNEL}_${settings.schema}` : WORK_CHANNEL;
    this.emitter.setMaxListeners(0);
  }

  /** Tells every process (and this one at once) that work may be due, for these lanes (null: any). */
  notify(lanes: readonly Lane[] | null): Promise<void> {
    this.emitter.emit('work', lanes);
    return this.q('SELECT pg_notify($1, $2)', [this.channel, encodeLanes(lanes)]).then(
      () => undefined,
      () => undefined, // the other processes' slow poll finds the work anyway
    );
  }

  /** Tells this process's listeners only (the other processes were told by a NOTIFY in a commit). */
  emit(lanes: readonly Lane[] | null): void {
    this.emitter.emit('work', lanes);
  }

  /** The queue's onWork: starts listening for the other processes' NOTIFYs on first use. */
  onWork(listener: (lanes: readonly Lane[] | null) => void): () => void {
    if (!this.listener && !this.stopped) {
      this.listener = new WorkListener(
        { ...this.settings },
        (lanes) => this.emitter.emit('work', lanes),
        this.channel,
      );
      this.listener.start();
    }
    this.emitter.on('work', listener);
    return () => this.emitter.off('work', listener);
  }

  /** Stops listening (the store is closing); a later onWork starts nothing. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.listener?.stop();
  }
}
