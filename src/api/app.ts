/**
 * The HTTP API as a Fastify instance. Nothing here knows which store or network is behind it:
 * the CLI hands in ApiDeps.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { ApiDeps } from './deps.js';
import { clientError, frameworkError } from './errors.js';
import { OneLinePerRequest } from './request-log.js';
import { installAuth } from './auth.js';
import { installErrorHandling } from './errors.js';
import { Metrics, metricsRoute, timeRequests } from './metrics.js';
import { installOpenApi } from './openapi.js';
import { deliveryRoutes, replayRoutes } from './routes/deliveries.js';
import { domainRoutes } from './routes/domains.js';
import { healthRoutes } from './routes/health.js';
import { destinationRoutes } from './routes/destinations.js';
import { eventRoutes } from './routes/events.js';
import { keyRoutes } from './routes/keys.js';
import { subscriptionRoutes } from './routes/subscriptions.js';
import { webhookRoutes } from './routes/webhooks.js';
import { sendRoutes } from './routes/send.js';
import { signingSecretRoutes } from './routes/signing-secret.js';

export interface ApiOptions {
  /** False for a worker-only process: just the health probes and /metrics. */
  apiRoutes?: boolean;
  /** This instance's metrics (the CLI shares them with the dispatcher); a fresh set when absent. */
  metrics?: Metrics;
  /** HAREPOST_METRICS_TOKEN: when set, /metrics needs `Authorization: Bearer <token>`. */
  metricsToken?: string | null;
}

export function buildApi(deps: ApiDeps, logger?: FastifyBaseLogger, options: ApiOptions = {}): FastifyInstance {
  const app = Fastify({
    ...(logger ? { loggerInstance: logger } : { logger: false }),
    bodyLimit: deps.maxBodyBytes,
    ajv: { customOptions: { allowUnionTypes: true, coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
    return503OnClosing: true,
    logController: new OneLinePerRequest(),
    // a client that stalls mid-request cannot hold its connection for ever
    requestTimeout: 60_000,
    frameworkErrors: frameworkError,
    clientErrorHandler: clientError,
  });
  installErrorHandling(app);

  // Every body is read as JSON whatever its Content-Type (curl -d sends form encoding by default);
  // an empty body is "no body", which each route judges for itself.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  type Done = (err: Error | null, body?: unknown) => void;
  const parse = (req: Parameters<typeof json>[0], body: string | Buffer, done: Done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    return (json as (r: typeof req, b: string, d: Done) => void)(req, text, done);
  };
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parse);
  app.addContentTypeParser('*', { parseAs: 'string' }, parse);

  const metrics = options.metrics ?? new Metrics({ store: deps.store });
  timeRequests(app, metrics);
  const apiRoutes = options.apiRoutes !== false;
  if (apiRoutes) installOpenApi(app); // first: it documents the routes registered after it
  void app.register(async (open) => {
    healthRoutes(open, deps.store);
    metricsRoute(open, metrics, options.metricsToken ?? null);
  });
  if (!apiRoutes) return app;
  const v1Deps: ApiDeps = { ...deps, store: metrics.countingStore(deps.store) };
  void app.register(
    async (v1) => {
      installAuth(v1, v1Deps);
      sendRoutes(v1, v1Deps);
      deliveryRoutes(v1, v1Deps);
      replayRoutes(v1, v1Deps);
      domainRoutes(v1, v1Deps);
      keyRoutes(v1, v1Deps);
      signingSecretRoutes(v1, v1Deps);
      destinationRoutes(v1, v1Deps);
      subscriptionRoutes(v1, v1Deps);
      eventRoutes(v1, v1Deps);
      webhookRoutes(v1, v1Deps);
    },
    { prefix: '/v1' },
  );
  return app;
}
