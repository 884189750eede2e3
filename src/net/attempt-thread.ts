/**
 * Delivery attempts on a thread of their own (issue 17): the main thread keeps the API, the store
 * and the dispatcher's bookkeeping; DNS, the address guard, TLS, the request and reading the answer
 * run in a worker thread (attempt-worker.ts) with its own guarded agent, on the second core.
 *
 * Attempts asked for in the same turn of the main loop go over in one message, and the results the
 * thread finishes in one turn of its loop come back in one. A process that delivers starts the
 * thread before it serves (start()); one that only answers the API starts it on its first attempt
 * (a destination's test send), if ever. Should it stop (a crash), every attempt it held
 * ends as a network error — retried on the delivery's own schedule, never lost — and the next
 * attempt starts a new thread.
 */
import { performance } from 'node:perf_hooks';
import type { Worker } from 'node:worker_threads';
import { siblingModuleUrl, startModuleWorker } from './module-worker.js';
import type { AttemptAgentSettings } from './attempt-agent.js';
import type { AttemptRequest, AttemptResult } from './http-attempt.js';

/** An attempt as it crosses to the thread: its body a Uint8Array of exactly its bytes. */
export interface AttemptJob {
  id: number;
  req: Omit<AttemptRequest, 'body'> & { body: Uint8Array | null };
}
export interface AttemptReply {
  id: number;
  result: AttemptResult;
}
export type ToWorker = { type: 'attempts'; jobs: AttemptJob[] };

export interface AttemptThreadOptions {
  /** The worker's module (tests); by default attempt-worker beside this file. */
  workerUrl?: URL;
  /** Told when the thread fails or stops unasked (for the log). */
  onError?: (err: Error) => void;
}

/** What the customer reads of an attempt the thread dropped (it is retried like any network error). */
export const THREAD_STOPPED = "the attempt was interrupted: Harepost's HTTP thread stopped; it is tried again";

interface Waiting {
  resolve: (r: AttemptResult) => void;
  startedAt: number;
  /** The thread the attempt was handed to (null: not yet sent). */
  worker: Worker | null;
}

export class AttemptThread {
  private worker: Worker | null = null;
  /** Settles once the current thread takes attempts (rejects should it stop before). */
  private ready: Promise<void> = Promise.resolve();
  private nextId = 0;
  private readonly waiting = new Map<number, Waiting>();
  private outbox: AttemptJob[] = [];
  private closed = false;

  constructor(
    private readonly settings: AttemptAgentSettings,
    private readonly options: AttemptThreadOptions = {},
  ) {}

  /** Attempts not yet answered by the thread. */
  get inFlight(): number {
    return this.waiting.size;
  }

  /** One attempt, performed on the thread; like performAttempt, never rejects. */
  perform(req: AttemptRequest): Promise<AttemptResult> {
    if (this.closed) return Promise.resolve(stopped(0));
    const id = ++this.nextId;
    return new Promise((resolve) => {
      this.waiting.set(id, { resolve, startedAt: performance.now(), worker: null });
      if (this.outbox.length === 0) queueMicrotask(() => this.flush());
      this.outbox.push({ id, req: { ...req, body: exactBytes(req.body) } });
    });
  }

  /**
   * Starts the thread now and waits until it takes attempts (a worker process calls this before
   * its dispatcher starts, so that the first deliveries do not wait out the thread's start).
   */
  async start(): Promise<void> {
    if (this.closed) return;
    this.started();
    await this.ready;
  }

  /** Stops the thread (its connections close with it); attempts it still held end as network errors. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = null;
    if (worker !== null) await worker.terminate();
    this.failWaiting(() => true);
  }

  private flush(): void {
    const jobs = this.outbox;
    this.outbox = [];
    if (jobs.length === 0) return;
    if (this.closed) {
      this.failWaiting(() => true);
      return;
    }
    const worker = this.started();
    for (const job of jobs) {
      const w = this.waiting.get(job.id);
      if (w !== undefined) w.worker = worker;
    }
    worker.postMessage({ type: 'attempts', jobs } satisfies ToWorker);
    // attempts it holds keep the process alive, as they would on the main loop
    worker.ref();
  }

  private started(): Worker {
    if (this.worker !== null) return this.worker;
    const worker = startModuleWorker(this.options.workerUrl ?? siblingModuleUrl(import.meta.url, 'attempt-worker'), this.settings);
    // an idle thread never keeps the process alive by itself
    worker.unref();
    let isReady: () => void = () => undefined;
    let stoppedEarly: (err: Error) => void = () => undefined;
    this.ready = new Promise<void>((resolve, reject) => {
      isReady = resolve;
      stoppedEarly = reject;
    });
    this.ready.catch(() => undefined); // only start() reports it
    worker.once('exit', (code) => stoppedEarly(new Error(`the HTTP thread stopped as it started (exit code ${code})`)));
    worker.on('message', (batch: AttemptReply[] | 'ready') => {
      if (batch === 'ready') return isReady();
      for (const { id, result } of batch) {
        const w = this.waiting.get(id);
        if (w === undefined) continue;
        this.waiting.delete(id);
        w.resolve(result);
      }
      if (this.waiting.size === 0) worker.unref();
    });
    worker.on('error', (err) => this.options.onError?.(err));
    worker.on('exit', (code) => {
      // a thread that stops unasked is told (a thrown error was told by 'error' already)
      if (!this.closed) this.options.onError?.(new Error(`the HTTP thread stopped (exit code ${code})`));
      if (this.worker === worker) this.worker = null;
      this.failWaiting((w) => w.worker === worker);
    });
    this.worker = worker;
    return worker;
  }

  private failWaiting(which: (w: Waiting) => boolean): void {
    const now = performance.now();
    for (const [id, w] of this.waiting) {
      if (!which(w)) continue;
      this.waiting.delete(id);
      w.resolve(stopped(Math.round(now - w.startedAt)));
    }
  }
}

function stopped(latencyMs: number): AttemptResult {
  return { kind: 'network_error', error: THREAD_STOPPED, latencyMs };
}

/**
 * A body as a Uint8Array of exactly its bytes: a structured clone copies a view's whole
 * ArrayBuffer, and a small Buffer is a view into a shared 8-KiB pool.
 */
function exactBytes(body: Buffer | null): Uint8Array | null {
  if (body === null) return null;
  return body.byteOffset === 0 && body.byteLength === body.buffer.byteLength ? body : new Uint8Array(body);
}
