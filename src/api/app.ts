/**
 * The HTTP API as a Fastify instance. Nothing here knows which store or network is behind it:
 * the CLI hands in ApiDeps.
 */
import { isUtf8 } from 'node:buffer';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { ApiDeps } from './deps.js';
import { clientError, frameworkError, notUtf8 } from './errors.js';
import { OneLinePerRequest } from './request-log.js';
import { installAuth } from './auth.js';
import { installErrorHandling } from './errors.js';
import { Metrics, metricsRoute, timeRequests } from './metrics.js';
import { installOpenApi } from './openapi.js';
import { installLoadShedding, type OverloadSettings } from './overload.js';
import { healthRoutes } from './routes/health.js';
import { registerV1Routes } from './v1-routes.js';
import { dashboardRoutes } from './dashboard/dashboard-routes.js';
import { defaultDashboardDir } from './dashboard/static-files.js';
import type { PortalSettings } from './dashboard/portal.js';
import { type AdminApiOptions, registerAdminApi } from './admin/admin-routes.js';

export interface ApiOptions {
  /** False for a worker-only process: just the health probes and /metrics. */
  apiRoutes?: boolean;
  /** This instance's metrics (the CLI shares them with the dispatcher); a fresh set when absent. */
  metrics?: Metrics;
  /** HAREPOST_METRICS_TOKEN: when set, /metrics needs `Authorization: Bearer <token>`. */
  metricsToken?: string | null;
  /** Where the built front-end is (index.html, assets/); default <package root>/dist/dashboard. */
  dashboardDir?: string;
  /** Who may frame the dashboard and how it is branded (HAREPOST_PORTAL_*); default: nowhere, Harepost's own. */
  portal?: PortalSettings;
  /** The operator API (/admin/v1), when HAREPOST_ADMIN_TOKEN is set; absent or null: not served at all. */
  admin?: AdminApiOptions | null;
  /** Load shedding's bounds (HAREPOST_MAX_EVENT_LOOP_DELAY_MS, …); absent: nothing is shed. */
  overload?: OverloadSettings;
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
  // an empty body is "no body", which each route judges for itself. JSON is UTF-8: bytes that are
  // not are refused (400), never replaced with U+FFFD and accepted altered.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  type Done = (err: Error | null, body?: unknown) => void;
  const parse = (req: Parameters<typeof json>[0], body: string | Buffer, done: Done) => {
    if (typeof body !== 'string' && !isUtf8(body)) return done(notUtf8());
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    return (json as (r: typeof req, b: string, d: Done) => void)(req, text, done);
  };
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, parse);
  app.addContentTypeParser('*', { parseAs: 'buffer' }, parse);

  const metrics = options.metrics ?? new Metrics({ store: deps.store });
  timeRequests(app, metrics);
  // before any route is registered: it covers them all (health and metrics excepted); a worker-only
  // process takes no calls to shed, and its busy loop must not make it look unready
  if (options.overload && options.apiRoutes !== false) installLoadShedding(app, deps.store, options.overload, metrics.registry);
  const apiRoutes = options.apiRoutes !== false;
  if (apiRoutes) installOpenApi(app, { admin: Boolean(options.admin) }); // first: it documents the routes registered after it
  void app.register(async (open) => {
    healthRoutes(open, deps.store);
    metricsRoute(open, metrics, options.metricsToken ?? null);
  });
  if (!apiRoutes) return app;
  const v1Deps: ApiDeps = { ...deps, store: metrics.countingStore(deps.store) };
  void app.register(
    async (v1) => {
      installAuth(v1, v1Deps);
      registerV1Routes(v1, v1Deps, { keys: true });
    },
    { prefix: '/v1' },
  );
  if (options.admin) registerAdminApi(app, options.admin);
  const dashboardDir = options.dashboardDir ?? defaultDashboardDir();
  void app.register(async (dashboard) => dashboardRoutes(dashboard, v1Deps, dashboardDir, options.portal), { prefix: '/dashboard' });
  return app;
}
