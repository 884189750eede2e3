/**
 * Wires the concrete pieces into a running Harepost: store, resolver, address guard, outbound
 * agent, API and dispatcher. The CLI and the end-to-end tests both start Harepost through here.
 */
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { buildApi } from '../api/app.js';
import { AccountEraser } from '../api/admin/account-eraser.js';
import { limitDefaultsOf } from './limit-defaults.js';
import { publicBase } from './login-link.js';
import { Metrics } from '../api/metrics.js';
import { devSinkRoutes } from '../api/dev-sink.js';
import type { Config } from '../config.js';
import { Dispatcher } from '../delivery/dispatcher.js';
import { RetentionPruner } from '../delivery/retention.js';
import { StorageUpkeep } from '../delivery/storage-upkeep.js';
import { createAddressPolicy, parseCidrList } from '../net/address-policy.js';
import { type AttemptAgentSettings, createAttemptAgent } from '../net/attempt-agent.js';
import { AttemptThread } from '../net/attempt-thread.js';
import { type AttemptRequest, type AttemptResult, performAttempt } from '../net/http-attempt.js';
import { createHostResolver, parseDnsServers } from '../net/resolver.js';
import { withAuthCache } from '../store/auth-cache.js';
import { openStore } from '../store/open-store.js';
import { StorageHealth, watchStorageFaults } from '../store/storage-faults.js';
import type { Store } from '../store/store.js';

export interface Harepost {
  config: Config;
  store: Store;
  logger: Logger;
  api: FastifyInstance | null;
  dispatcher: Dispatcher | null;
  pruner: RetentionPruner | null;
  /** http://host:port the API listens on (null for a worker). */
  url: string | null;
  /** Stops taking work, lets in-flight attempts finish (bounded), closes everything. */
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** Mount the dev sandbox's sink at /dev/sink (harepost dev only). */
  devSink?: boolean;
  /** An extra CA trusted for targets, beside Node's bundled roots (tests). Without it, Node's defaults and NODE_EXTRA_CA_CERTS apply. */
  targetCa?: string;
}

export function createLogger(config: Config): Logger {
  return pino({
    level: config.logLevel,
    base: { service: 'harepost' },
    redact: {
      paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'headers.authorization', 'key', 'secret'],
      censor: '[redacted]',
    },
  });
}

export async function startHarepost(config: Config, options: StartOptions = {}): Promise<Harepost> {
  const logger = options.logger ?? createLogger(config);
  const addressPolicy = createAddressPolicy(parseCidrList(config.allowPrivateNetworks));
  const servers = parseDnsServers(config.dnsServers);
  const resolver = createHostResolver(servers.length > 0 ? { servers } : {});
  const storage = new StorageHealth({ logger: logger.child({ component: 'storage' }) });
  // authentication and verified-domain answers cached for 250 ms; this process's changes drop them at once
  const store = withAuthCache(watchStorageFaults(openStore(config.databaseUrl), storage));
  await store.migrate();

  const attemptSettings: AttemptAgentSettings = {
    allowPrivateNetworks: config.allowPrivateNetworks,
    dnsServers: config.dnsServers,
    connectionsPerOrigin: config.maxInFlightPerOrigin,
    targetCa: options.targetCa ?? null,
  };
  // attempts run on a thread of their own (HAREPOST_ATTEMPT_THREAD), or on this loop
  const attemptThread = config.attemptThread
    ? new AttemptThread(attemptSettings, { onError: (err) => logger.error({ err: err.message }, 'the HTTP thread failed; a new one takes the next attempts') })
    : null;
  const agent = attemptThread === null ? createAttemptAgent(attemptSettings) : null;
  const attempt = (req: AttemptRequest): Promise<AttemptResult> => (attemptThread !== null ? attemptThread.perform(req) : performAttempt(agent!, req));
  let dispatcher: Dispatcher | null = null;
  const metrics = new Metrics({
    store,
    inFlight: () => dispatcher?.inFlightCount ?? 0,
    statusCacheMs: config.metricsCacheMs,
    onError: (err) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'counting deliveries for metrics failed'),
  });
  storage.onFault((kind) => metrics.storeError(kind));
  let pruner: RetentionPruner | null = null;
  let upkeep: StorageUpkeep | null = null;
  if (config.role !== 'api') {
    upkeep = new StorageUpkeep({
      store,
      intervalMs: config.vacuumIntervalMs,
      logger: logger.child({ component: 'storage-upkeep' }),
    });
    pruner = new RetentionPruner({
      store,
      retentionDays: config.retentionDays,
      intervalMs: config.retentionIntervalMs,
      logger: logger.child({ component: 'retention' }),
    });
    dispatcher = new Dispatcher({
      store,
      attempt,
      logger: logger.child({ component: 'dispatcher' }),
      maxInFlight: config.maxInFlight,
      maxInFlightPerOrigin: config.maxInFlightPerOrigin,
      maxInFlightPerAccount: config.maxInFlightPerAccount,
      holdMaxMs: config.holdMaxMs,
      leaseMarginMs: config.leaseMarginMs,
      breaker: { failureThreshold: config.breakerFailures, probeBaseMs: config.breakerProbeMs, probeMaxMs: 10_000 },
      observer: metrics,
    });
  }

  /** What an account may hold unless the operator set its own limits (HAREPOST_MAX_*). */
  const limitDefaults = limitDefaultsOf(config);
  // API processes erase accounts (asked over /admin/v1, or left unfinished by a process that stopped)
  const eraser =
    config.role === 'worker' ? null : new AccountEraser({ store, log: logger.child({ component: 'account-erasure' }) });
  const api = buildApi(
    {
      store,
      addressPolicy,
      resolver,
      allowHttpTargets: config.allowHttpTargets,
      maxBodyBytes: config.maxBodyBytes,
      rateLimitPerSecond: config.rateLimitPerSecond,
      rateLimitBurst: config.rateLimitBurst,
      limits: limitDefaults,
      defaultSignature: config.defaultSignature,
      attempt,
    },
    logger,
    {
      apiRoutes: config.role !== 'worker',
      metrics,
      metricsToken: config.metricsToken,
      overload: {
        maxEventLoopDelayMs: config.maxEventLoopDelayMs,
        maxCommitQueue: config.maxCommitQueue,
        maxPoolWaiting: config.maxPoolWaiting,
      },
      portal: { frameAncestors: config.portalFrameAncestors, title: config.portalTitle, accent: config.portalAccent },
      admin:
        config.adminToken === null || eraser === null
          ? null
          : {
              store,
              token: config.adminToken,
              limitDefaults,
              // links are made only once requests come, after `url` below is known
              publicUrl: () => config.publicUrl ?? url ?? publicBase(config),
              eraser,
            },
    },
  );
  if (options.devSink) await devSinkRoutes(api);
  // the HTTP thread is up before the first claim (the first deliveries do not wait out its start)
  // and before /readyz answers
  if (dispatcher !== null) await attemptThread?.start();
  // a burst of new connections (1,000 callers at once) must wait in the kernel's accept queue, not
  // be dropped there: a dropped SYN is retried only after 1, 3, 7, 15 s (the OS caps this at somaxconn)
  await api.listen({ host: config.host, port: config.port, backlog: 4096 });
  const address = api.server.address();
  const url =
    address && typeof address === 'object'
      ? `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
      : null;
  dispatcher?.start();
  pruner?.start();
  upkeep?.start();
  await eraser?.resumeUnfinished();
  logger.info({ url, role: config.role, store: store.kind }, 'harepost started');

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      logger.info('shutting down: no new work taken');
      await api.close();
      await pruner?.stop();
      await upkeep?.stop();
      await dispatcher?.stop(config.shutdownGraceMs);
      await eraser?.stop();
      await store.close();
      // attempts past the shutdown grace were given back: cut their connections rather than wait
      await attemptThread?.close();
      await agent?.destroy().catch(() => undefined);
      logger.info('stopped');
    })());

  return { config, store, logger, api, dispatcher, pruner, url, close };
}
