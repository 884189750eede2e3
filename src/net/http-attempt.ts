/**
 * One HTTP attempt against a target. Reports what happened; classification into delivery
 * outcomes is core's business. Never throws, never follows redirects, never includes request
 * headers or body in an error string.
 */
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import type { Dispatcher } from 'undici';

export interface AttemptRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: Buffer | null;
  timeoutMs: number;
}

export type AttemptResult =
  | { kind: 'response'; status: number; retryAfter: string | null; excerpt: string; latencyMs: number }
  | { kind: 'timeout' | 'network_error' | 'blocked'; error: string; latencyMs: number };

/** At most this much of a response body is read; the rest is discarded with the connection. */
export const MAX_BODY_BYTES = 64 * 1024;
/** This much of what was read is kept as the attempt's excerpt. */
export const EXCERPT_BYTES = 1024;
const MAX_ERROR_CHARS = 300;

class AttemptTimeout extends Error {
  constructor(ms: number) {
    super(`no complete response within ${ms} ms`);
    this.name = 'AttemptTimeout';
  }
}

function isBlocked(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === 'HAREPOST_BLOCKED') return true;
  }
  return false;
}

function describe(err: unknown): string {
  let text: string;
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const msg = err.message || err.name;
    text = typeof code === 'string' && !msg.startsWith(code) ? `${code}: ${msg}` : msg;
    if (err instanceof AggregateError && err.errors.length > 0) text += ` (${describe(err.errors[0])})`;
    const cause = err.cause;
    if (cause instanceof Error && !text.includes(cause.message)) text += ` (cause: ${describe(cause)})`;
  } else {
    text = String(err);
  }
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS - 1)}…` : text;
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

  const work = (async (): Promise<AttemptResult> => {
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
  })();
  // Whichever loses the race may still reject later; that is expected.
  work.catch(() => {});
  deadline.catch(() => {});

  try {
    return await Promise.race([work, deadline]);
  } catch (err) {
    if (isBlocked(err)) return { kind: 'blocked', error: describe(err), latencyMs: elapsed() };
    if (timedOut) {
      return { kind: 'timeout', error: `timeout: no complete response within ${req.timeoutMs} ms`, latencyMs: elapsed() };
    }
    return { kind: 'network_error', error: describe(err), latencyMs: elapsed() };
  } finally {
    clearTimeout(timer);
  }
}
