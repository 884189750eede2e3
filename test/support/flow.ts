/**
 * Measuring flow control from the receiver's side: how many requests were in flight at once,
 * and how many arrived within any window of time. Pure arithmetic on recorded times.
 */

/** The most times in `times` (ms) that fall within any closed window [t, t + windowMs]. */
export function maxInWindow(times: readonly number[], windowMs: number): { count: number; from: number | null } {
  const sorted = [...times].sort((a, b) => a - b);
  let best = { count: 0, from: null as number | null };
  let j = 0;
  for (let i = 0; i < sorted.length; i++) {
    if (j < i) j = i;
    while (j < sorted.length && sorted[j]! <= sorted[i]! + windowMs) j++;
    if (j - i > best.count) best = { count: j - i, from: sorted[i]! };
  }
  return best;
}

/** Counts requests in flight (arrived, not yet answered) and remembers the peak. */
export class InFlightGauge {
  current = 0;
  peak = 0;
  /** [arrived, answered] per request, in arrival order (answered null while in flight). */
  readonly spans: Array<[number, number | null]> = [];

  /** Call when a request has arrived; call the function it returns just before answering it. */
  enter(now = Date.now()): () => void {
    this.current++;
    this.peak = Math.max(this.peak, this.current);
    const span: [number, number | null] = [now, null];
    this.spans.push(span);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.current--;
      span[1] = Date.now();
    };
  }
}

/** A promise with its resolve function outside (to hold a request until the test lets it go). */
export function latch(): { promise: Promise<void>; open: () => void; opened: () => boolean } {
  let open!: () => void;
  let isOpen = false;
  const promise = new Promise<void>((resolve) => {
    open = () => {
      isOpen = true;
      resolve();
    };
  });
  return { promise, open, opened: () => isOpen };
}
