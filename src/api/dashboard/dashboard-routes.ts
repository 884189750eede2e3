/**
 * Everything under /dashboard: the built front-end, the login link, and the API the front-end
 * calls — /dashboard/api/{session,logout,overview} and /dashboard/api/v1/*, which is the /v1 API
 * (the very same routes, less API-key management) reached with a session cookie instead of a key.
 * Registered only where the API is (a worker process has none), and kept out of /openapi.json.
 */
import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.js';
import { registerV1Routes } from '../v1-routes.js';
import { loginRoute } from './login.js';
import { installSessionAuth } from './session-auth.js';
import { sessionRoutes } from './session-routes.js';
import { staticRoutes } from './static-files.js';

/**
 * On every dashboard answer. The CSP allows only Harepost's own scripts, styles and images
 * (inline styles for the front-end's framework, data: images); no framing; no Referer, since the
 * login URL carries its token.
 */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

/** Registers the dashboard into `app`, a scope with the /dashboard prefix. `dir` holds the built front-end. */
export function dashboardRoutes(app: FastifyInstance, deps: ApiDeps, dir: string): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) void reply.header(name, value);
    return payload;
  });
  staticRoutes(app, dir);
  loginRoute(app, deps.store);
  void app.register(
    async (api) => {
      installSessionAuth(api, deps);
      // answers carry the CSRF token and account data: never kept by a cache
      api.addHook('onSend', async (_request, reply, payload) => {
        if (!reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store');
        return payload;
      });
      sessionRoutes(api, deps.store);
      void api.register(async (v1) => registerV1Routes(v1, deps, { keys: false }), { prefix: '/v1' });
    },
    { prefix: '/api' },
  );
}
