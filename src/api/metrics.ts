/**
 * Prometheus metrics, served at GET /metrics. Each Harepost instance has a Registry of its own
 * (several live in one test process); the process-wide default metrics (CPU, memory, event loop,
 * GC) are collected once per process and shown by every instance's registry.
 *
 * What feeds them: the API's request hook (latency by route pattern and status), a view of the
 * store that counts the deliveries the API accepts, the dispatcher's attempt observer (the CLI
 * wires it), and two gauges read when scraped — attempts in flight, and deliveries by status
 * from the store, cached so that scrapes never hammer it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ATTEMPT_OUTCOMES, type AttemptOutcome } from '../core/outcome.js';
import { STORAGE_FAULT_KINDS, type StorageFaultKind } from '../store/storage-faults.js';
import type { Store } from '../store/store.js';
import { ApiError } from './errors.js';
import { errorResponse } from './schemas/error.js';

const PREFIX = 'harepost_';

type PendingCounts = Awaited<ReturnType<Store['countPendingDeliveries']>>;
type Source = 'send' | 'event';

export interface MetricsOptions {
  /** Where the delivery-status gauges are read from. */
  store: Pick<Store, 'countPendingDeliveries'>;
  /** Attempts in flight in this process right now (absent: no dispatcher here, 0). */
  inFlight?: () => number;
  /** How long one count from the store serves scrapes (HAREPOST_METRICS_CACHE_MS). Default 10 s. */
  statusCacheMs?: number;
  /** Told when counting deliveries for the gauges fails (the last counts stay shown). */
  onError?: (err: unknown) => void;
  now?: () => number;
}

let processRegistry: Registry | undefined;

/** The default process metrics, collected once per process however many instances run. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: PREFIX });
  }
  return processRegistry;
}

/** One value from a slow source, reused for `ttlMs`; concurrent readers share one load. */
class Cached<T> {
  private value: T | null = null;
  private loadedAt: number | null = null;
  private loading: Promise<void> | null = null;

  constructor(
    private readonly load: () => Promise<T>,
    private readonly ttlMs: number,
    private readonly now: () => number,
    private readonly onError: (err: unknown) => void,
  ) {}

  async get(): Promise<T | null> {
    if (this.loadedAt !== null && this.now() - this.loadedAt < this.ttlMs) return this.value;
    this.loading ??= this.load()
      .then(
        (v) => {
          this.value = v;
        },
        (err: unknown) => this.onError(err), // keep the last value; try again after the window
      )
      .finally(() => {
        this.loadedAt = this.now();
        this.loading = null;
      });
    await this.loading;
    return this.value;
  }
}

export class Metrics {
  /** This instance's metrics and the process-wide ones. */
  readonly registry: Registry;
  private readonly acceptedTotal: Counter<'source'>;
  private readonly attempts: Counter<'outcome'>;
  private readonly attemptSeconds: Histogram<'outcome'>;
  private readonly httpSeconds: Histogram<'method' | 'route' | 'status_code'>;
  private readonly storeErrors: Counter<'kind'>;

  constructor(opts: MetricsOptions) {
    const own = new Registry();
    const registers = [own];
    this.acceptedTotal = new Counter({
      name: `${PREFIX}deliveries_accepted_total`,
      help: 'Deliveries created by the API (source: send = POST /v1/send, event = fan-out of POST /v1/events).',
      labelNames: ['source'],
      registers,
    });
    for (const source of ['send', 'event'] as const) this.acceptedTotal.inc({ source }, 0);

    this.attempts = new Counter({
      name: `${PREFIX}attempts_total`,
      help: 'Delivery attempts made by this process, by outcome.',
      labelNames: ['outcome'],
      registers,
    });
    this.attemptSeconds = new Histogram({
      name: `${PREFIX}attempt_duration_seconds`,
      help: 'Time from connecting to the target to its last response byte (or the failure), by outcome.',
      labelNames: ['outcome'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    for (const outcome of ATTEMPT_OUTCOMES) {
      this.attempts.inc({ outcome }, 0);
      this.attemptSeconds.zero({ outcome });
    }

    const inFlight = opts.inFlight ?? (() => 0);
    new Gauge({
      name: `${PREFIX}attempts_in_flight`,
      help: 'Attempts in flight in this process right now.',
      registers,
      collect() {
        this.set(inFlight());
      },
    });

    const pending = new Cached<PendingCounts>(
      () => opts.store.countPendingDeliveries(),
      opts.statusCacheMs ?? 10_000,
      opts.now ?? Date.now,
      opts.onError ?? (() => undefined),
    );
    new Gauge({
      name: `${PREFIX}deliveries`,
      help: 'Deliveries not yet final, by status, in the whole store (the same in every process; read once per cache window).',
      labelNames: ['status'],
      registers,
      async collect() {
        const counts = await pending.get();
        if (counts === null) return;
        this.set({ status: 'queued' }, counts.queued);
        this.set({ status: 'retrying' }, counts.retrying);
        this.set({ status: 'dead_letter' }, counts.dead_letter);
      },
    });

    this.httpSeconds = new Histogram({
      name: `${PREFIX}http_request_duration_seconds`,
      help: 'API requests by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });

    this.storeErrors = new Counter({
      name: `${PREFIX}store_errors_total`,
      help: `Storage faults met by this process (API and dispatcher), by kind: ${STORAGE_FAULT_KINDS.join(', ')}.`,
      labelNames: ['kind'],
      registers,
    });
    for (const kind of STORAGE_FAULT_KINDS) this.storeErrors.inc({ kind }, 0);

    this.registry = Registry.merge([processMetrics(), own]);
  }

  /** The dispatcher's AttemptObserver: one attempt ended. */
  attempt(outcome: AttemptOutcome, seconds: number): void {
    this.attempts.inc({ outcome });
    this.attemptSeconds.observe({ outcome }, seconds);
  }

  /** A storage fault met by the API or the dispatcher (StorageHealth's listener). */
  storeError(kind: StorageFaultKind): void {
    this.storeErrors.inc({ kind });
  }

  /** Deliveries accepted (committed) by the API. */
  accepted(source: Source, count: number): void {
    if (count > 0) this.acceptedTotal.inc({ source }, count);
  }

  /** One answered API request; `route` is the pattern (`/v1/deliveries/:id`), never the raw URL. */
  request(method: string, route: string, statusCode: number, seconds: number): void {
    this.httpSeconds.observe({ method, route, status_code: String(statusCode) }, seconds);
  }

  /**
   * The same store, except that the deliveries it commits through `enqueueDeliveries` are counted
   * as accepted: `event` when they fan out an event, else `send`. An idempotent replay commits
   * nothing and counts nothing.
   */
  countingStore(store: Store): Store {
    const enqueueDeliveries: Store['enqueueDeliveries'] = async (accountId, mode, deliveries, options) => {
      const earlier = await store.enqueueDeliveries(accountId, mode, deliveries, options);
      if (earlier === null) this.accepted(options?.event ? 'event' : 'send', deliveries.length);
      return earlier;
    };
    // each method bound once (a request reads several: binding on every read cost the API path)
    const bound = new Map<PropertyKey, { from: unknown; fn: unknown }>();
    return new Proxy(store, {
      get(target, prop) {
        if (prop === 'enqueueDeliveries') return enqueueDeliveries;
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== 'function') return value;
        const known = bound.get(prop);
        if (known !== undefined && known.from === value) return known.fn;
        const fn = (value as (...a: unknown[]) => unknown).bind(target);
        bound.set(prop, { from: value, fn });
        return fn;
      },
    });
  }
}

/** Times every request `app` (the root) answers, from the first byte read to the last written. */
export function timeRequests(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', (request, reply, done) => {
    metrics.request(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** GET /metrics; with `token`, only for `Authorization: Bearer <token>`. */
export function metricsRoute(app: FastifyInstance, metrics: Metrics, token: string | null): void {
  const expected = token === null ? null : digest(token);
  const guard = async (request: FastifyRequest) => {
    if (expected === null) return;
    const authz = request.headers.authorization;
    const m = typeof authz === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(authz) : null;
    if (!m) {
      const hint = 'send "Authorization: Bearer <HAREPOST_METRICS_TOKEN>"';
      throw new ApiError(401, 'unauthorized', `Missing metrics token: ${hint}`);
    }
    if (!timingSafeEqual(digest(m[1]!), expected)) throw new ApiError(401, 'unauthorized', 'The metrics token is wrong: send the value of HAREPOST_METRICS_TOKEN');
  };
  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Metrics in the Prometheus text format',
        description:
          'Open unless HAREPOST_METRICS_TOKEN is set; then send "Authorization: Bearer <that token>" ' +
          '(API keys do not work here).',
        tags: ['operations'],
        response: {
          200: { description: 'The metrics.', content: { 'text/plain': { schema: { type: 'string' } } } },
          401: errorResponse(401, 'unauthorized: HAREPOST_METRICS_TOKEN is set and this request did not carry it.'),
        },
      },
      onRequest: guard,
    },
    async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
}
