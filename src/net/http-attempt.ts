/**
 * One HTTP attempt against a target. Reports what happened; classification into delivery
 * outcomes is core's business. Never throws, never follows redirects, never includes request
 * headers or body in an error string.
 *
 * A failed attempt's `error` is what the customer reads (stored with the attempt, shown by the API
 * and the dashboard): it never names an address the target's name resolved to. `detail`, when
 * there is one, is the operator's: the addresses and ranges behind a refusal or a failed connect,
 * for the log, never for the API.
 */
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import type { Dispatcher } from 'undici';
import { type AttemptContext, runInAttempt } from './attempt-context.js';
import { describeError } from './error-text.js';

export interface AttemptRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: Buffer | null;
  timeoutMs: number;
}

export type AttemptResult =
  | { kind: 'response'; status: number; retryAfter: string | null; excerpt: string; latencyMs: number }
  | { kind: 'timeout' | 'network_error' | 'blocked'; error: string; detail?: string; latencyMs: number };

/** At most this much of a response body is read; the rest is discarded with the connection. */
export const MAX_BODY_BYTES = 64 * 1024;
/** This much of what was read is kept as the attempt's excerpt. */
export const EXCERPT_BYTES = 1024;

class AttemptTimeout extends Error {
  constructor(ms: number) {
    super(`no complete response within ${ms} ms`);
    this.name = 'AttemptTimeout';
  }
}

/** The errors of this chain, outermost first (a few levels of `cause`). */
function chain(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) out.push(e);
  return out;
}

function isBlocked(err: unknown): boolean {
  return chain(err).some((e) => (e as { code?: unknown }).code === 'HAREPOST_BLOCKED');
}

/**
 * The customer's text and the operator's detail of a failure. An error of the guarded agent that
 * carries a `detail` has a public message already; its cause, if any, is not shown.
 */
function explain(err: unknown): { error: string; detail?: string } {
  const told = chain(err).find((e): e is Error & { detail: string } => e instanceof Error && typeof (e as { detail?: unknown }).detail === 'string');
  return told === undefined ? { error: describeError(err) } : { error: describeError(told.message), detail: told.detail };
}

export async function performAttempt(agent: Dispatcher, req: AttemptRequest): Promise<AttemptResult> {
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  const controller = new AbortController();
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;

  // undici defers an abort until the request is handed a connection, so a slow DNS answer or
  // connect would outlive the signal. The race makes the timer bound the whole attempt; the abort
  // still tears the request down (now or once it connects).
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      const err = new AttemptTimeout(req.timeoutMs);
      controller.abort(err);
      reject(err);
    }, Math.max(0, req.timeoutMs));
  });

  const context: AttemptContext = { deadlineAt: started + Math.max(0, req.timeoutMs), waitingFor: null };
  const work = runInAttempt(context, async (): Promise<AttemptResult> => {
    const res = await request(req.url, {
      dispatcher: agent,
      method: req.method as Dispatcher.HttpMethod,
      headers: req.headers,
      body: req.body ?? undefined,
      signal: controller.signal,
      maxRedirections: 0,
    });

    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        const room = MAX_BODY_BYTES - total;
        chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
        total += Math.min(chunk.length, room);
        if (total >= MAX_BODY_BYTES) break; // leaving the loop destroys the body and its connection
      }
    } finally {
      if (!res.body.destroyed && total >= MAX_BODY_BYTES) res.body.destroy();
    }

    const raw = res.headers['retry-after'];
    const retryAfter = Array.isArray(raw) ? (raw[0] ?? null) : (raw ?? null);
    const excerpt = Buffer.concat(chunks, total).subarray(0, EXCERPT_BYTES).toString('utf8');
    return { kind: 'response', status: res.statusCode, retryAfter, excerpt, latencyMs: elapsed() };
  });
  // Whichever loses the race may still reject later; that is expected.
  work.catch(() => {});
  deadline.catch(() => {});

  try {
    return await Promise.race([work, deadline]);
  } catch (err) {
    if (isBlocked(err)) return { kind: 'blocked', ...explain(err), latencyMs: elapsed() };
    // a failure at the deadline (a DNS lookup cut short by it) is the attempt's timeout
    if (timedOut || performance.now() >= context.deadlineAt) {
      const waiting = context.waitingFor === null ? '' : ` (still waiting for ${context.waitingFor})`;
      return { kind: 'timeout', error: `timeout: no complete response within ${req.timeoutMs} ms${waiting}`, latencyMs: elapsed() };
    }
    return { kind: 'network_error', ...explain(err), latencyMs: elapsed() };
  } finally {
    clearTimeout(timer);
  }
}
