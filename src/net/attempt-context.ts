/**
 * What the connector needs to know about the attempt that asked for a connection: when that
 * attempt gives up (so a DNS lookup never outlives it) and what it is waiting for (so a timeout
 * can say so).
 *
 * Carried in a slot set for the synchronous part of `runInAttempt`: undici hands a request to a
 * pool, its client and (for a new connection) the guarded agent's connect synchronously, inside
 * the `request()` call, and connect reads the slot before its first await. Not AsyncLocalStorage:
 * on Node 20 that installs promise hooks for the whole process, and every promise of every API
 * request and commit then pays for them (the benchmark's largest single regression after the
 * tenancy work, docs/benchmarks.md). A connection undici opens later on its own (for a request
 * queued behind others) sees no attempt: the resolver's own budget still bounds its lookup.
 */
import { performance } from 'node:perf_hooks';

export interface AttemptContext {
  /** performance.now() at which the attempt gives up. */
  readonly deadlineAt: number;
  /** What the attempt is waiting for right now, e.g. "the DNS lookup of example.com"; null once connected. */
  waitingFor: string | null;
}

let current: AttemptContext | undefined;

/**
 * Runs `fn` with `context` as the current attempt for its synchronous part (an async `fn` up to
 * its first await: where it dispatches its request), then restores whatever was current before.
 */
export function runInAttempt<T>(context: AttemptContext, fn: () => T): T {
  const outer = current;
  current = context;
  try {
    return fn();
  } finally {
    current = outer;
  }
}

/** The attempt this code runs for, if any (read it synchronously, before any await). */
export function currentAttempt(): AttemptContext | undefined {
  return current;
}

/** Milliseconds left before the current attempt gives up (undefined outside an attempt). */
export function attemptTimeLeftMs(): number | undefined {
  return current === undefined ? undefined : Math.max(0, current.deadlineAt - performance.now());
}
