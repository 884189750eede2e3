/**
 * The routes of the /v1 API, in one list for the two places that serve them: /v1 (API keys)
 * and /dashboard/api/v1 (a dashboard session). The scope handed in has already decided who is
 * calling (request.auth); the routes themselves never know which way they were reached.
 */
import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from './deps.js';
import { typedBySchemas } from './schemas/provider.js';
import { deliveryRoutes, replayRoutes } from './routes/deliveries.js';
import { destinationRoutes } from './routes/destinations.js';
import { domainRoutes } from './routes/domains.js';
import { eventRoutes } from './routes/events.js';
import { keyRoutes } from './routes/keys.js';
import { sendRoutes } from './routes/send.js';
import { signingSecretRoutes } from './routes/signing-secret.js';
import { subscriptionRoutes } from './routes/subscriptions.js';
import { webhookRoutes } from './routes/webhooks.js';

export interface V1RouteOptions {
  /** API-key management (/keys): only where API keys authenticate, never for a browser session. */
  keys: boolean;
}

export function registerV1Routes(untyped: FastifyInstance, deps: ApiDeps, options: V1RouteOptions): void {
  const scope = typedBySchemas(untyped); // request types from each route's schema
  sendRoutes(scope, deps);
  deliveryRoutes(scope, deps);
  replayRoutes(scope, deps);
  domainRoutes(scope, deps);
  if (options.keys) keyRoutes(scope, deps);
  signingSecretRoutes(scope, deps);
  destinationRoutes(scope, deps);
  subscriptionRoutes(scope, deps);
  eventRoutes(scope, deps);
  webhookRoutes(scope, deps);
}
