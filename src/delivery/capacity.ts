/**
 * Capacity: how many attempts may be in flight in this process — in all, per origin (the real
 * target, whichever accounts send to it) and per account — and how many claimed deliveries a lane
 * may keep waiting in its buffer behind a full origin or account (one origin cap deep). It reads
 * the book of lanes (lanes.ts) and each lane's health (a lane held or recovering takes only its
 * allowance, origin-health.ts) and changes neither; the dispatcher asks it what a claim may ask
 * for, what may start, and who gets a freed slot.
 */
import type { Lane, LaneRoom } from '../store/store.js';
import { type LaneState, type LaneBook, laneKey } from './lanes.js';
import type { OriginHealth } from './origin-health.js';

export interface Caps {
  /** Attempts in flight in all (HAREPOST_MAX_IN_FLIGHT). */
  total: number;
  /** Per origin, all accounts together. */
  perOrigin: number;
  /** Per account (never above the total). */
  perAccount: number;
}

/** What one claim has handed out so far: per lane, origin and account, and in all. */
interface Plan {
  lanes: Map<LaneState, number>;
  origins: Map<string, number>;
  accounts: Map<string, number>;
  total: number;
}

export class Capacity {
  readonly total: number;
  readonly perOrigin: number;
  readonly perAccount: number;
  /** Ties between equally loaded accounts are broken by a turn that moves on each claim. */
  private turn = 0;

  constructor(
    private readonly book: LaneBook,
    private readonly health: OriginHealth,
    caps: Caps,
  ) {
    this.total = caps.total;
    this.perOrigin = caps.perOrigin;
    this.perAccount = caps.perAccount;
  }

  /**
   * One claim's share for every lane with due work (null: none to ask for), fairly: accounts
   * holding the fewest slots first, each account a share of the `batch`, each of its lanes a
   * share of that.
   */
  planClaim(batch: number): Map<LaneState, number> | null {
    const byAccount = new Map<string, LaneState[]>();
    for (const lane of this.book.lanes.values()) {
      if (!lane.due || lane.waiting.length > 0 || this.health.blocked(lane.key)) continue;
      const list = byAccount.get(lane.account);
      if (list) list.push(lane);
      else byAccount.set(lane.account, [lane]);
    }
    if (byAccount.size === 0) return null;
    const load = (account: string) => {
      const a = this.book.account(account);
      return a.inFlight + a.waiting;
    };
    const turn = this.turn++;
    const accounts = [...byAccount.entries()]
      .map(([account, lanes], i) => ({ account, lanes, load: load(account), tie: (i + turn) % byAccount.size }))
      .sort((x, y) => x.load - y.load || x.tie - y.tie);
    const planned: Plan = { lanes: new Map(), origins: new Map(), accounts: new Map(), total: 0 };
    const add = (lane: LaneState, n: number) => {
      planned.lanes.set(lane, (planned.lanes.get(lane) ?? 0) + n);
      planned.origins.set(lane.origin, (planned.origins.get(lane.origin) ?? 0) + n);
      planned.accounts.set(lane.account, (planned.accounts.get(lane.account) ?? 0) + n);
      planned.total += n;
    };
    let budget = batch;
    let open = accounts;
    while (budget > 0 && open.length > 0) {
      const share = Math.max(1, Math.floor(budget / open.length));
      const next: typeof accounts = [];
      for (const acct of open) {
        if (budget <= 0) break;
        let give = Math.min(share, budget);
        let lanes = acct.lanes.filter((l) => this.wantOf(l, planned) > 0);
        while (give > 0 && lanes.length > 0) {
          const per = Math.max(1, Math.floor(give / lanes.length));
          const still: LaneState[] = [];
          for (const lane of lanes) {
            if (give <= 0) break;
            const n = Math.min(per, give, this.wantOf(lane, planned));
            if (n > 0) {
              add(lane, n);
              give -= n;
              budget -= n;
            }
            if (this.wantOf(lane, planned) > 0) still.push(lane);
          }
          lanes = still;
        }
        if (acct.lanes.some((l) => this.wantOf(l, planned) > 0)) next.push(acct);
      }
      open = next;
    }
    return planned.lanes.size === 0 ? null : planned.lanes;
  }

  /** What the lane may still take: to start now, or (behind a full origin or account) to buffer. */
  private wantOf(lane: LaneState, planned: Plan): number {
    const o = this.book.origin(lane.origin);
    const a = this.book.account(lane.account);
    const mine = planned.lanes.get(lane) ?? 0;
    const originBusy = o.inFlight + o.waiting + (planned.origins.get(lane.origin) ?? 0);
    const accountBusy = a.inFlight + a.waiting + (planned.accounts.get(lane.account) ?? 0);
    const laneRoom = this.health.tracking(lane.key)
      ? this.health.allowance(lane.key, this.perOrigin, lane.inFlight) - lane.waiting.length - mine
      : Infinity;
    if (laneRoom <= 0) return 0;
    // (buffered deliveries wait behind a full origin or account: they take no slot of the total)
    const startable = Math.min(
      laneRoom,
      this.perOrigin - originBusy,
      this.perAccount - accountBusy,
      this.total - this.book.inFlight - planned.total,
    );
    if (startable > 0) return startable;
    // nothing can start: buffer (one cap deep) behind a full origin or account, not behind the total
    if (originBusy < this.perOrigin && accountBusy < this.perAccount) return 0;
    if (Number.isFinite(laneRoom)) return 0; // a lane held or recovering takes only what it may start
    return Math.max(0, Math.min(2 * this.perOrigin - originBusy, 2 * this.perAccount - accountBusy));
  }

  /** What can start now for a lane: its own allowance, its origin's and its account's free slots. */
  roomOf(lane: Lane): LaneRoom {
    const key = laneKey(lane.account_id, lane.origin);
    const state = this.book.lanes.get(key);
    const o = this.book.origin(lane.origin);
    const a = this.book.account(lane.account_id);
    return {
      lane: Math.max(0, this.health.allowance(key, this.perOrigin, state?.inFlight ?? 0) - (state?.waiting.length ?? 0)),
      origin: Math.max(0, this.perOrigin - o.inFlight - o.waiting),
      account: Math.max(0, this.perAccount - a.inFlight - a.waiting),
    };
  }

  /** True when an attempt of the lane may start now: a slot free in all, at its origin and account, and in its lane's allowance. */
  canStart(lane: LaneState): boolean {
    return (
      this.book.inFlight < this.total &&
      this.book.origin(lane.origin).inFlight < this.perOrigin &&
      this.book.account(lane.account).inFlight < this.perAccount &&
      this.health.allowance(lane.key, this.perOrigin, lane.inFlight) > 0
    );
  }

  /**
   * The fewest attempts in flight of an account with a lane due, unbuffered and able to start
   * (Infinity: none). A slot of the total freed while it was full goes to such an account before
   * a buffered delivery of a busier one: buffers never starve an account with fresh work.
   */
  hungriestDueLoad(): number {
    let least = Infinity;
    for (const lane of this.book.lanes.values()) {
      if (!lane.due || lane.waiting.length > 0 || this.health.blocked(lane.key)) continue;
      const load = this.book.account(lane.account).inFlight;
      if (load < least && load < this.perAccount && this.book.origin(lane.origin).inFlight < this.perOrigin) least = load;
    }
    return least;
  }
}
