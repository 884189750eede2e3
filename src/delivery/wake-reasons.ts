/**
 * Why the dispatcher's loop goes round again. Each reason is set through one method here and taken
 * (read and cleared) by the loop through one other:
 *
 * - claim: lanes may have due work to claim — a lane came due (new work, a retry come due, a hold
 *   that ended, a recovered lane expedited), a slot freed up, a claim took all it asked for;
 * - look: every lane with work is to be looked for — the start, a wake-up that named no lane, the
 *   idle timer, a failed round;
 * - gated: destinations under flow control may have due work;
 * - kick: something happened while the loop was busy or asleep — it goes round again at once
 *   instead of sleeping (and a sleep ends early).
 *
 * Which lanes a claim asks for is each lane's `due` flag (lanes.ts), set here too: `laneDue` with
 * the claim reason, `dueLater` without it (deliveries given back unattempted: the next claim, asked
 * for once the give-back is done, takes them), cleared by `drained`.
 */
import type { LaneState } from './lanes.js';

export class WakeReasons {
  private claimWanted = true;
  private lookWanted = true;
  private gatedWanted = true;
  private kicked = false;
  private wake: (() => void) | null = null;
  /** When the loop's current sleep ends (clock time); null while it is not sleeping on its timer. */
  private sleepingUntil: number | null = null;

  /** The lane may have deliveries due now: claim for it. */
  laneDue(lane: LaneState): void {
    lane.due = true;
    this.claimWanted = true;
  }

  /** The lane's deliveries were given back unattempted: a later claim takes them. */
  dueLater(lane: LaneState): void {
    lane.due = true;
  }

  /** Nothing more is due in the lane now (its claim got less than it asked for). */
  drained(lane: LaneState): void {
    lane.due = false;
  }

  /** Lanes may have due work: a slot freed up, a claim took all it asked for. */
  wantClaim(): void {
    this.claimWanted = true;
  }

  /** Every lane with work is to be looked for. */
  wantLook(): void {
    this.lookWanted = true;
  }

  /** Destinations under flow control may have due work. */
  wantGated(): void {
    this.gatedWanted = true;
  }

  /** A round failed: claim and look again (after a pause). */
  failed(): void {
    this.claimWanted = true;
    this.lookWanted = true;
  }

  /** The loop's own timer rang (no kick): claim, claim gated work, and look when a look is due. */
  timerRang(lookDue: boolean): void {
    this.claimWanted = true;
    this.gatedWanted = true;
    if (lookDue) this.lookWanted = true;
  }

  /** Goes round again at once: ends a sleep, or stops the round in progress from ending in one. */
  kick(): void {
    this.kicked = true;
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Something comes due at `at` (clock time): a loop sleeping past it is woken. */
  dueAt(at: number): void {
    if (this.sleepingUntil !== null && at < this.sleepingUntil) this.kick();
  }

  /** A round begins: the kicks so far are answered by it. */
  beginRound(): void {
    this.kicked = false;
  }

  takeLook(): boolean {
    const w = this.lookWanted;
    this.lookWanted = false;
    return w;
  }

  takeGated(): boolean {
    const w = this.gatedWanted;
    this.gatedWanted = false;
    return w;
  }

  takeClaim(): boolean {
    const w = this.claimWanted;
    this.claimWanted = false;
    return w;
  }

  /** True when the loop is to go round again without sleeping. */
  pressing(): boolean {
    return this.claimWanted || this.kicked;
  }

  /**
   * Sleeps `ms`; resolves true when woken by a kick, false when the time ran out. `until` (the
   * clock time the sleep ends) lets `dueAt` wake it early; call `awake` once it has resolved.
   */
  sleep(ms: number, until: number | null = null): Promise<boolean> {
    this.sleepingUntil = until;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve(false);
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }

  /** The loop is no longer asleep on its timer. */
  awake(): void {
    this.sleepingUntil = null;
  }
}
