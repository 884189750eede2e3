import { setTimeout as delay } from 'node:timers/promises';

export function sleep(ms: number): Promise<void> {
  return delay(ms).then(() => undefined);
}

export interface WaitForOptions {
  /** Default 10 000 ms. */
  timeoutMs?: number;
  /** Pause between polls; default 20 ms. */
  intervalMs?: number;
  /** Included in the rejection error on timeout. */
  message?: string;
}

type NotReady = undefined | false | null;

/**
 * Polls `fn` until it returns something other than `undefined`, `false` or `null`
 * (so `0` and `''` count as ready) and resolves with that value. A throwing/rejecting
 * `fn` counts as "not ready yet" — handy for `waitFor(() => { assert.equal(...); return true; })`;
 * the last such error is reported as the timeout error's `cause`.
 * Calls never overlap; a single call that outlives the deadline also times out.
 */
export async function waitFor<T>(
  fn: () => T | NotReady | Promise<T | NotReady>,
  opts: WaitForOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 20;
  const started = Date.now();
  const deadline = started + timeoutMs;
  let lastError: unknown;
  let lastValue: unknown;
  let attempts = 0;
  for (;;) {
    attempts++;
    const remaining = deadline - Date.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const timedOut = Symbol('timeout');
      const result = await Promise.race([
        Promise.resolve().then(fn),
        new Promise<typeof timedOut>((resolve) => {
          timer = setTimeout(() => resolve(timedOut), Math.max(remaining, 0));
        }),
      ]);
      if (result === timedOut) break;
      if (result !== undefined && result !== false && result !== null) return result as T;
      lastValue = result;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    } finally {
      if (timer) clearTimeout(timer);
    }
    if (Date.now() + intervalMs > deadline) {
      // One last try right at the deadline is pointless if the interval overshoots it.
      if (Date.now() >= deadline) break;
      await delay(Math.max(deadline - Date.now(), 0));
      continue;
    }
    await delay(intervalMs);
  }
  const what = opts.message ?? 'condition not met';
  const detail = lastError !== undefined
    ? `; last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`
    : `; last value: ${String(lastValue)}`;
  const err = new Error(`waitFor timed out after ${timeoutMs} ms (${attempts} attempts): ${what}${detail}`,
    lastError !== undefined ? { cause: lastError } : undefined);
  throw err;
}
