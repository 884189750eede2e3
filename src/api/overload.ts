/**
 * Load shedding: when callers outrun the service, new work is refused at once with
 * `503 overloaded` and `Retry-After` instead of being queued for seconds. Three signals, each
 * with its own bound (0 turns it off): the event loop's delay, the sends and events waiting for
 * their commit, and the callers waiting for a database connection (Store.pressure()). While any
 * is past its bound /readyz answers 503 so a load balancer moves traffic; /healthz and /metrics
 * keep answering.
 *
 * The event-loop delay is the mean over a window (250 ms), and it must be past its bound in two
 * windows in a row: a saturated process is late in every window, while one long stall (start-up,
 * a large collection) spoils one window only and is over by the time it is measured — shedding
 * then would refuse callers for nothing. (@fastify/under-pressure, which was tried first, sheds on
 * a single window: right after start-up every call was refused for a quarter of a second.)
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, type Registry } from 'prom-client';
import type { Store } from '../store/store.js';

export interface OverloadSettings {
  /** HAREPOST_MAX_EVENT_LOOP_DELAY_MS: mean event-loop delay over the last sample; 0: not checked. */
  maxEventLoopDelayMs: number;
  /** HAREPOST_MAX_COMMIT_QUEUE: sends and events waiting for (or in) a commit; 0: not checked. */
  maxCommitQueue: number;
  /** HAREPOST_MAX_POOL_WAITING: callers waiting for a database connection; 0: not checked. */
  maxPoolWaiting: number;
  /** How often the event-loop delay is sampled (ms). */
  sampleIntervalMs?: number;
}

export type OverloadReason = 'event_loop_delay' | 'commit_queue' | 'pool_waiting' | 'accept_backlog';

/** Seconds a shed caller is asked to wait. */
export const OVERLOAD_RETRY_AFTER_S = 1;

/** Routes that answer however loaded the process is (readiness answers, but says 503). */
const ALWAYS_ANSWERED = new Set(['/healthz', '/metrics']);
const READINESS = '/readyz';
/** At most one log line per this long while shedding goes on. */
const LOG_EVERY_MS = 5000;

export function sheddingEnabled(s: OverloadSettings): boolean {
  return s.maxEventLoopDelayMs > 0 || s.maxCommitQueue > 0 || s.maxPoolWaiting > 0;
}

/** Registers the shedder on the root instance, before any route: every route is covered. */
export function installLoadShedding(
  app: FastifyInstance,
  store: Store,
  settings: OverloadSettings,
  registry?: Registry,
): void {
  if (!sheddingEnabled(settings)) return;
  const loop = settings.maxEventLoopDelayMs > 0 ? new EventLoopDelay(settings.sampleIntervalMs ?? 250) : null;
  app.addHook('onClose', async () => loop?.stop());
  const shed = registry ? shedCounter(registry) : null;
  const log = new SheddingLog(app.log);

  const overloadedBy = (): OverloadReason | null => {
    if (loop && loop.sustained() > settings.maxEventLoopDelayMs) {
      return 'event_loop_delay';
    }
    const p = store.pressure?.();
    if (p && settings.maxCommitQueue > 0 && p.commitQueue >= settings.maxCommitQueue) return 'commit_queue';
    if (p && settings.maxPoolWaiting > 0 && p.poolWaiting >= settings.maxPoolWaiting) return 'pool_waiting';
    return null;
  };

  const turns = new TurnWatch(app.server);
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    const path = request.routeOptions.url ?? request.url.split('?')[0]!;
    if (ALWAYS_ANSWERED.has(path)) return done();
    const reason = turns.admit() ? overloadedBy() : 'accept_backlog';
    if (reason === null) return done();
    if (path === READINESS) {
      void reply.code(503).send({ status: 'unavailable' });
      return;
    }
    // read (and drop) the body now: answered with its body unread, a keep-alive connection waits
    // before its next request, and a shed call cost 4 times what a served one does (measured)
    request.raw.resume();
    shed?.inc({ reason });
    log.shed(reason);
    if (reason === 'accept_backlog') holdConnection(request, reply, OVERLOAD_RETRY_AFTER_S * 1000);
    void reply
      .code(503)
      .header('retry-after', String(OVERLOAD_RETRY_AFTER_S))
      .send({ error: { code: 'overloaded', message: OVERLOAD_MESSAGE[reason] } });
  });
}

/**
 * Once the 503 is written, its connection is not read for the Retry-After it was told: a caller
 * that waits as told loses nothing, and one that sends again at once waits on its own connection
 * instead of being read, parsed and refused again — which is what lets a saturated process take
 * the connections waiting for it (TurnWatch). Only for those sheds: a caller that pools its
 * connections sends its next, unrelated call on whichever is free, and would wait out another
 * call's Retry-After (measured: a 202 p99 past 1 s when every shed held its connection).
 */
export function holdConnection(request: FastifyRequest, reply: FastifyReply, ms: number): void {
  const socket = reply.raw.socket;
  if (socket === null || typeof socket.pause !== 'function') return; // (an injected request has no real socket)
  // once the answer is written and the request's body read to its end (reading a body resumes
  // the socket), and after what those two set off in this turn
  let waiting = 2;
  const hold = () => {
    if (--waiting > 0) return;
    setImmediate(() => {
      if (socket.destroyed) return;
      socket.pause();
      setTimeout(() => {
        if (!socket.destroyed) socket.resume();
      }, ms).unref();
    });
  };
  reply.raw.once('finish', hold);
  if (request.raw.complete) hold();
  else request.raw.once('end', hold);
}

const OVERLOAD_MESSAGE: Record<OverloadReason, string> = {
  event_loop_delay: 'Harepost is overloaded (it is falling behind on requests): retry after the Retry-After delay',
  commit_queue: 'Harepost is overloaded (too many requests are waiting for their commit): retry after the Retry-After delay',
  pool_waiting: 'Harepost is overloaded (too many requests are waiting for the database): retry after the Retry-After delay',
  accept_backlog: 'Harepost is overloaded (new connections are waiting to be taken): retry after the Retry-After delay',
};

function shedCounter(registry: Registry): Counter<'reason'> {
  const name = 'harepost_requests_shed_total';
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<'reason'>;
  return new Counter({
    name,
    help: 'API requests refused with 503 overloaded, by the bound that was past (event_loop_delay, commit_queue, pool_waiting, accept_backlog)',
    labelNames: ['reason'],
    registers: [registry],
  });
}

/** One warning when shedding starts, then at most one per LOG_EVERY_MS with how many were refused. */
class SheddingLog {
  private lastAt = 0;
  private since = 0;

  constructor(private readonly logger: FastifyBaseLogger) {}

  shed(reason: OverloadReason): void {
    this.since++;
    const now = performance.now();
    if (this.lastAt !== 0 && now - this.lastAt < LOG_EVERY_MS) return;
    this.logger.warn({ reason, shed: this.since }, 'overloaded: shedding requests with 503');
    this.lastAt = now;
    this.since = 0;
  }
}

/**
 * Connections waiting to be taken. Node 20's libuv accepts one connection per turn of its event
 * loop (libuv 1.45 stopped accepting in a loop: libuv/libuv#3696), and a turn lasts as long as the
 * requests read in it take: a saturated process whose turns last 100 ms takes 10 connections a
 * second while hundreds wait in the kernel's queue, their callers' first calls unanswered for many
 * seconds (measured: 345 of 1,000 past 10 s). The sign of such a queue is a connection taken in
 * turn after turn, each turn long, `backlogTurns` turns in a row: a pool that connects at once —
 * `npm run bench`'s 64 callers, any pool of up to `backlogTurns` connections — is taken before
 * the sign shows. While it lasts, at most `budget` calls a turn are let through and the rest are
 * answered 503 at once, their connections held for their Retry-After (holdConnection): turns
 * shrink to a few ms and the queue is taken within a second or two. It ends at the first turn
 * that takes no connection. (Counted in turns, not time: a sign that needed 2 s of such turns left
 * every connection behind the first 2 s of them waiting that long, the bulk of the 202s' p99.)
 */
export class TurnWatch {
  private readonly longTurnMs: number;
  private readonly backlogTurns: number;
  private readonly budget: number;
  private scheduled = false;
  private accepted = false;
  private lastTurnEnd = performance.now();
  /** Long turns in a row that each took a connection. */
  private run = 0;
  private waiting = false;
  private admitted = 0;

  /**
   * @param opts.longTurnMs a turn longer than this (ms) that took a connection starts a run
   *   (default 5); any turn that takes one continues it
   * @param opts.backlogTurns a run this many turns long means connections are waiting (default 128)
   * @param opts.budget calls let through in one turn while they wait (default 4)
   */
  constructor(server: Pick<NodeJS.EventEmitter, 'on'>, opts: { longTurnMs?: number; backlogTurns?: number; budget?: number } = {}) {
    this.longTurnMs = opts.longTurnMs ?? 5;
    this.backlogTurns = opts.backlogTurns ?? 128;
    this.budget = opts.budget ?? 4;
    server.on('connection', () => {
      this.accepted = true;
      this.watchTurn();
    });
  }

  /** Whether connections are taken to be waiting (decided at the end of the last turn). */
  get connectionsWaiting(): boolean {
    return this.waiting;
  }

  /** Whether a call read in this turn is let through (always, unless connections wait). */
  admit(): boolean {
    this.watchTurn();
    return !this.waiting || ++this.admitted <= this.budget;
  }

  private watchTurn(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.endTurn);
  }

  /** Runs once at the end of a turn that read a call or took a connection. */
  private readonly endTurn = (): void => {
    const now = performance.now();
    const long = now - this.lastTurnEnd > this.longTurnMs;
    // a run starts with a long turn; once started, every turn that takes a connection continues it
    // (shedding makes turns short, and must go on while connections are still being taken)
    this.run = !this.accepted ? 0 : long || this.run > 0 ? this.run + 1 : 0;
    this.waiting = this.run >= this.backlogTurns;
    this.accepted = false;
    this.admitted = 0;
    this.scheduled = false;
    this.lastTurnEnd = now;
  };
}

/** The event loop's mean delay per window, and the lower of the last two windows' (see top). */
export class EventLoopDelay {
  private static readonly RESOLUTION_MS = 10;
  private readonly histogram = monitorEventLoopDelay({ resolution: EventLoopDelay.RESOLUTION_MS });
  private readonly timer: NodeJS.Timeout;
  private last = 0;
  private previous = 0;
  private windowStart = performance.now();

  constructor(windowMs: number) {
    this.histogram.enable();
    this.timer = setInterval(() => this.sample(), windowMs);
    this.timer.unref();
  }

  private sample(): void {
    const now = performance.now();
    const h = this.histogram;
    // no sample at all: the loop was held the whole window, so it was at least that late
    const delay = h.count > 0 ? Math.max(0, h.mean / 1e6 - EventLoopDelay.RESOLUTION_MS) : now - this.windowStart;
    h.reset();
    this.previous = this.last;
    this.last = delay;
    this.windowStart = now;
  }

  /** Milliseconds of delay both of the last two windows had at least. */
  sustained(): number {
    return Math.min(this.last, this.previous);
  }

  stop(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }
}
