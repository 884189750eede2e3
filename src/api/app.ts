/**
 * The HTTP API as a Fastify instance. Nothing here knows which store or network is behind it:
 * the CLI hands in ApiDeps.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { ApiDeps } from './deps.js';
import { installAuth } from './auth.js';
import { installErrorHandling } from './errors.js';
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
  /** False for a worker-only process: just the health probes. */
  apiRoutes?: boolean;
}

export function buildApi(deps: ApiDeps, logger?: FastifyBaseLogger, options: ApiOptions = {}): FastifyInstance {
  const app = Fastify({
    ...(logger ? { loggerInstance: logger } : { logger: false }),
    bodyLimit: deps.maxBodyBytes,
    ajv: { customOptions: { allowUnionTypes: true, coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
    return503OnClosing: true,
  });
  installErrorHandling(app);

  // Every body is read as JSON whatever its Content-Type (curl -d sends form encoding by default);
  // an empty body is "no body", which each route judges for itself.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  type Done = (err: Error | null, body?: unknown) => void;
  const parse = (req: Parameters<typeof json>[0], body: string | Buffer, done: Done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    return (json as (r: typeof req, b: string, d: Done) => void)(req, text, done);
  };
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parse);
  app.addContentTypeParser('*', { parseAs: 'string' }, parse);

  healthRoutes(app, deps.store);
  if (options.apiRoutes === false) return app;
  void app.register(
    async (v1) => {
      installAuth(v1, deps);
      sendRoutes(v1, deps);
      deliveryRoutes(v1, deps);
      replayRoutes(v1, deps);
      domainRoutes(v1, deps);
      keyRoutes(v1, deps);
      signingSecretRoutes(v1, deps);
      destinationRoutes(v1, deps);
      subscriptionRoutes(v1, deps);
      eventRoutes(v1, deps);
      webhookRoutes(v1, deps);
    },
    { prefix: '/v1' },
  );
  return app;
}
