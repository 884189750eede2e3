/**
 * What the connector needs to know about the attempt that asked for a connection: when that
 * attempt gives up (so a DNS lookup never outlives it) and what it is waiting for (so a timeout
 * can say so). Carried by AsyncLocalStorage from performAttempt through undici's dispatch into the
 * guarded agent's connect. A connection undici opens later on its own (for a request queued
 * behind others) runs in the context of whatever triggered it, or in none: the resolver's own
 * budget still bounds its lookup.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';

export interface AttemptContext {
  /** performance.now() at which the attempt gives up. */
  readonly deadlineAt: number;
  /** What the attempt is waiting for right now, e.g. "the DNS lookup of example.com"; null once connected. */
  waitingFor: string | null;
}

const storage = new AsyncLocalStorage<AttemptContext>();

export function runInAttempt<T>(context: AttemptContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** The attempt this code runs for, if any. */
export function currentAttempt(): AttemptContext | undefined {
  return storage.getStore();
}

/** Milliseconds left before the current attempt gives up (undefined outside an attempt). */
export function attemptTimeLeftMs(): number | undefined {
  const ctx = storage.getStore();
  return ctx === undefined ? undefined : Math.max(0, ctx.deadlineAt - performance.now());
}
