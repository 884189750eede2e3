/**
 * Origin parking: a lane held by its breaker or throttle (origin-health.ts) is timed from when this
 * process first saw it held; once held longer than the hold bound (HAREPOST_HOLD_MAX_MS) its
 * deliveries past the bound are dead-lettered, in batches, saying since when the target was
 * unavailable. A hold is timed on the monotonic clock; the wall clock only stamps what is recorded.
 */
import type { Lane, Store } from '../store/store.js';
import { heldErrorText } from './held-error.js';
import { laneOfKey } from './lanes.js';
import type { OriginHealth } from './origin-health.js';

/** A lane held past the bound has its expired deliveries ended this often, this many at a time. */
const EXPIRE_EVERY_MS = 1_000;
const EXPIRE_BATCH = 500;
/** The default hold bound: the default policy's max_delay_ms (see docs/reliability.md). */
export const DEFAULT_HOLD_MAX_MS = 3_600_000;

/** A lane held (open or throttled): since when (wall clock, to tell; monotonic, to time), and when its expired deliveries were last ended. */
interface Hold {
  lane: Lane;
  since: number;
  sinceClock: number;
  checkedAt: number;
}

export interface HoldsOptions {
  store: Pick<Store, 'expireHeld'>;
  logger: { warn(obj: object, msg?: string): void };
  health: OriginHealth;
  /** The wall clock (what is recorded) and the monotonic one (how long a lane is held). */
  now: () => number;
  clock: () => number;
  holdMaxMs: number;
}

export class Holds {
  private readonly held = new Map<string, Hold>();

  constructor(private readonly opts: HoldsOptions) {}

  /** Lanes held now and not before are timed from `now` (wall) and `clock`; lanes no longer held are forgotten. */
  notice(now: number, clock: number): void {
    for (const key of this.held.keys()) if (!this.opts.health.held(key)) this.held.delete(key);
    for (const key of this.opts.health.heldKeys()) {
      if (this.held.has(key)) continue;
      const { account, origin } = laneOfKey(key);
      this.held.set(key, { lane: { account_id: account, origin }, since: now, sinceClock: clock, checkedAt: -Infinity });
    }
  }

  /** When (clock time) a hold next needs the loop: its bound passing, or its next batch; Infinity: never. */
  nextWakeAt(): number {
    let at = Infinity;
    for (const h of this.held.values()) at = Math.min(at, Math.max(h.sinceClock + this.opts.holdMaxMs, h.checkedAt + EXPIRE_EVERY_MS));
    return at;
  }

  /**
   * Dead-letters what a lane held past the bound has waited for longer than the bound: at most
   * one batch per lane and second. True when a batch was full (more may be waiting).
   */
  async expire(): Promise<boolean> {
    const now = this.opts.now();
    const clock = this.opts.clock();
    let more = false;
    for (const hold of this.held.values()) {
      if (clock - hold.sinceClock < this.opts.holdMaxMs || clock - hold.checkedAt < EXPIRE_EVERY_MS) continue;
      hold.checkedAt = clock;
      const ended = await this.opts.store.expireHeld({
        ...hold.lane,
        dueBefore: now - this.opts.holdMaxMs,
        now,
        error: heldErrorText(hold.lane.origin, hold.since, this.opts.holdMaxMs),
        limit: EXPIRE_BATCH,
      });
      if (ended > 0) {
        this.opts.logger.warn(
          { account_id: hold.lane.account_id, origin: hold.lane.origin, count: ended, held_since: new Date(hold.since).toISOString() },
          'held deliveries past HAREPOST_HOLD_MAX_MS dead-lettered',
        );
      }
      if (ended >= EXPIRE_BATCH) {
        hold.checkedAt = -Infinity;
        more = true;
      }
    }
    return more;
  }
}
