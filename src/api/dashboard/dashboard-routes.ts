/**
 * Everything under /dashboard: the built front-end, the login link, and the API the front-end
 * calls — /dashboard/api/{session,logout,overview} and /dashboard/api/v1/*, which is the /v1 API
 * (the very same routes, less API-key management) reached with a session cookie instead of a key.
 * Registered only where the API is (a worker process has none), and kept out of /openapi.json.
 */
import fastifyCookie from '@fastify/cookie';
import fastifyHelmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.js';
import { registerV1Routes } from '../v1-routes.js';
import { loginRoute } from './login.js';
import { COOKIE_PARSE_OPTIONS } from './cookie.js';
import { DEFAULT_PORTAL, type PortalSettings, contentSecurityPolicy, helmetOptions, isEmbeddable } from './portal.js';
import { installSessionAuth } from './session-auth.js';
import { sessionRoutes } from './session-routes.js';
import { staticRoutes } from './static-files.js';

/**
 * Registers the dashboard into `app`, a scope with the /dashboard prefix. `dir` holds the built
 * front-end; `portal` says who may frame it and how it is branded.
 */
export function dashboardRoutes(app: FastifyInstance, deps: ApiDeps, dir: string, portal: PortalSettings = DEFAULT_PORTAL): void {
  // the security headers of every answer here: helmet's, and the CSP (portal.ts says why by hand)
  void app.register(fastifyHelmet, helmetOptions(portal));
  const csp = contentSecurityPolicy(portal);
  app.addHook('onSend', async (_request, reply, payload) => {
    void reply.header('content-security-policy', csp);
    return payload;
  });
  // request.cookies for the session cookie (cookie.ts)
  void app.register(fastifyCookie, { hook: 'onRequest', parseOptions: COOKIE_PARSE_OPTIONS });
  staticRoutes(app, dir, portal);
  loginRoute(app, deps.store, portal);
  void app.register(
    async (api) => {
      installSessionAuth(api, deps);
      // answers carry the CSRF token and account data: never kept by a cache
      api.addHook('onSend', async (_request, reply, payload) => {
        if (!reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store');
        return payload;
      });
      sessionRoutes(api, deps.store, isEmbeddable(portal) ? 'embedded' : 'strict');
      void api.register(async (v1) => registerV1Routes(v1, deps, { keys: false }), { prefix: '/v1' });
    },
    { prefix: '/api' },
  );
}
