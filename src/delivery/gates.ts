/**
 * When the dispatcher claims for destinations with flow control (claimed through their gates:
 * a rate limit, a max_in_flight): on new work (while some destination has flow control, or at most
 * once per GATE_LOOK_MS when none did at the last claim), after a completion that may have freed
 * room for it, and at the time the last gated claim's answer named — a gate held back by its rate
 * (`nextAt`, wall clock) or by attempts in flight elsewhere (`inFlightBound`: looked at again
 * GATE_LOOK_MS later, since other processes' slots free up and nobody tells us). Pure: the caller
 * passes the times in; times are on the monotonic clock unless named wall.
 */
import type { GatedClaim } from '../store/store.js';

/** With no destination under flow control, new work looks for one at most this often. */
export const GATE_LOOK_MS = 250;

/** What the gates keep of a gated claim's answer (a GatedClaim is one). */
export type GatedClaimAnswer = Pick<GatedClaim, 'anyGates' | 'nextAt' | 'inFlightBound'> & { claimed: readonly unknown[] };

/** How the slots stood when an attempt ended (before its slot was freed). */
export interface CompletionSlots {
  /** The attempt was a gated delivery's (its gate has room again). */
  gated: boolean;
  totalWasFull: boolean;
  originWasFull: boolean;
  accountWasFull: boolean;
}

export class Gates {
  /** Whether any destination had flow control at the last gated claim (true until one answers). */
  private anyGates = true;
  /** When the last gated claim was asked for. */
  private lastAskedAt = 0;
  /** When a gate held back (by its rate, or by in-flight elsewhere) is to be looked at again; null: none is. */
  private lookAgainAt: number | null = null;

  /** New work was signalled at `clock`: true when gated work is to be claimed for it. */
  wantedOnNewWork(clock: number): boolean {
    return this.anyGates || clock - this.lastAskedAt >= GATE_LOOK_MS;
  }

  /**
   * An attempt ended: true when gated work is to be claimed — its own gate has room again, or a
   * full cap it held had gated work waiting behind it (per origin or account: only while some
   * destination has flow control).
   */
  wantedAfterCompletion(slots: CompletionSlots): boolean {
    return slots.gated || slots.totalWasFull || (this.anyGates && (slots.originWasFull || slots.accountWasFull));
  }

  /** A gated claim's turn came: the time to look again it was waiting for is dropped (with no room to claim, a completion asks again). */
  claimTurn(): void {
    this.lookAgainAt = null;
  }

  /** A gated claim was asked for at `clock`. */
  claimAsked(clock: number): void {
    this.lastAskedAt = clock;
  }

  /**
   * A gated claim that had `room` came back at `clock` (`wall`: the wall clock then), and sets the
   * next look. True when it took all its room: more gated work may be due at once.
   */
  claimAnswered(answer: GatedClaimAnswer, room: number, clock: number, wall: number): boolean {
    this.anyGates = answer.anyGates;
    // (nextAt is on the wall clock; the timer runs on the monotonic one)
    this.lookAgainAt = answer.nextAt === null ? null : clock + (answer.nextAt - wall);
    // its slots free up in other processes too, and nobody tells us: look again soon
    if (answer.inFlightBound) this.lookAgainAt = Math.min(this.lookAgainAt ?? Infinity, clock + GATE_LOOK_MS);
    return answer.claimed.length >= room;
  }

  /** When (clock time) the loop is to wake to claim gated work again; Infinity: nothing asks for it. */
  nextWakeAt(): number {
    return this.lookAgainAt ?? Infinity;
  }
}
