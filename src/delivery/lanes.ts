/**
 * The dispatcher's book of lanes. A lane is one account's deliveries to one target origin: the
 * unit the dispatcher claims by, holds (breaker, throttle) and buffers. Attempts in flight are
 * counted per lane, per origin (the real target, whichever accounts send to it) and per account,
 * so each cap can be checked in constant time.
 */
import type { ClaimedDelivery } from '../store/store.js';

/** A lane's key: account and origin (neither holds a space). */
export const laneKey = (account: string, origin: string): string => `${account} ${origin}`;

/** The account and origin of a lane's key. */
export function laneOfKey(key: string): { account: string; origin: string } {
  const at = key.indexOf(' ');
  return { account: key.slice(0, at), origin: key.slice(at + 1) };
}

export interface Buffered {
  d: ClaimedDelivery;
  claimedAt: number;
}

export interface LaneState {
  readonly key: string;
  readonly account: string;
  readonly origin: string;
  inFlight: number;
  /** Claimed (leased) deliveries waiting for a slot, oldest first. */
  readonly waiting: Buffered[];
  /** It may have deliveries due now: new work, a retry come due, or a claim that took all it asked. */
  due: boolean;
}

/** What one origin or account holds in this process. */
export interface Tally {
  inFlight: number;
  waiting: number;
  readonly lanes: Set<LaneState>;
}

const EMPTY: Tally = Object.freeze({ inFlight: 0, waiting: 0, lanes: new Set<LaneState>() });

export class LaneBook {
  readonly lanes = new Map<string, LaneState>();
  private readonly origins = new Map<string, Tally>();
  private readonly accounts = new Map<string, Tally>();
  /** Attempts in flight, and deliveries buffered, in all. */
  inFlight = 0;
  waiting = 0;

  /** The lane of (account, origin), made on first use. */
  lane(account: string, origin: string): LaneState {
    const key = laneKey(account, origin);
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { key, account, origin, inFlight: 0, waiting: [], due: false };
      this.lanes.set(key, lane);
      this.tally(this.origins, origin).lanes.add(lane);
      this.tally(this.accounts, account).lanes.add(lane);
    }
    return lane;
  }

  origin(origin: string): Tally {
    return this.origins.get(origin) ?? EMPTY;
  }

  account(account: string): Tally {
    return this.accounts.get(account) ?? EMPTY;
  }

  private tally(map: Map<string, Tally>, key: string): Tally {
    let t = map.get(key);
    if (!t) map.set(key, (t = { inFlight: 0, waiting: 0, lanes: new Set() }));
    return t;
  }

  started(lane: LaneState): void {
    lane.inFlight++;
    this.origin(lane.origin).inFlight++;
    this.account(lane.account).inFlight++;
    this.inFlight++;
  }

  finished(lane: LaneState): void {
    lane.inFlight--;
    this.origin(lane.origin).inFlight--;
    this.account(lane.account).inFlight--;
    this.inFlight--;
  }

  buffer(lane: LaneState, item: Buffered): void {
    lane.waiting.push(item);
    this.origin(lane.origin).waiting++;
    this.account(lane.account).waiting++;
    this.waiting++;
  }

  /** The oldest buffered delivery of the lane. */
  unbuffer(lane: LaneState): Buffered | undefined {
    const item = lane.waiting.shift();
    if (item) {
      this.origin(lane.origin).waiting--;
      this.account(lane.account).waiting--;
      this.waiting--;
    }
    return item;
  }

  /** Every buffered delivery, emptied out of the book (shutdown). */
  drainBuffers(): ClaimedDelivery[] {
    const out: ClaimedDelivery[] = [];
    for (const lane of this.lanes.values()) {
      for (let b = this.unbuffer(lane); b; b = this.unbuffer(lane)) out.push(b.d);
    }
    return out;
  }

  /** Forgets a lane with nothing in flight, buffered or due (`keep`: still wanted elsewhere). */
  forgetIfIdle(lane: LaneState, keep = false): void {
    if (keep || lane.inFlight > 0 || lane.waiting.length > 0 || lane.due) return;
    this.lanes.delete(lane.key);
    for (const [map, key] of [[this.origins, lane.origin], [this.accounts, lane.account]] as const) {
      const t = map.get(key);
      if (!t) continue;
      t.lanes.delete(lane);
      if (t.lanes.size === 0 && t.inFlight === 0 && t.waiting === 0) map.delete(key);
    }
  }
}
