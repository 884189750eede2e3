/**
 * Who is calling /dashboard/api: the session in the harepost_session cookie — never an API key
 * (a browser holds no key, and a key must not open what a session opens). The same per-principal
 * rate limit as the API, keyed by session; and every request that can change something (any
 * method but GET, HEAD, OPTIONS) must carry the session's CSRF token in X-CSRF-Token.
 *
 * The dashboard's own pages only ever call it from its own origin. A request a browser marks as
 * coming from another site (Sec-Fetch-Site: cross-site or same-site) is refused before the
 * session is even looked up: with the SameSite=None cookie of an embeddable portal, that keeps
 * other pages from making credentialed calls at all, GETs included (the CSRF token stays the
 * check that every change needs, in every browser).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hashDashboardSecret, isDashboardSecret, sameSecret } from '../../core/dashboard-tokens.js';
import { TokenBucketLimiter } from '../../core/token-bucket.js';
import type { AuthContext, DashboardSession, DashboardStore } from '../../store/store.js';
import { ApiError } from '../errors.js';
import { presentedSession } from './cookie.js';

declare module 'fastify' {
  interface FastifyRequest {
    dashboardSession: DashboardSession;
  }
}

export const CSRF_HEADER = 'x-csrf-token';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** The 401 of a request without an open session. */
export const NO_SESSION_MESSAGE = 'No dashboard session, or it has ended: sign in with a new login link (harepost login-link)';
/** request.auth.key_id for a session: no API key is involved (the key routes are not served here). */
export const SESSION_PRINCIPAL = 'dashboard-session';

export interface SessionAuthOptions {
  store: DashboardStore;
  rateLimitPerSecond: number;
  rateLimitBurst: number;
}

/**
 * True when the browser says the request came from a page of another origin. `none` (the user
 * typed or opened the URL) and no header (not a browser, or an old one) pass: a browser page
 * cannot remove or forge this header.
 */
function fromAnotherSite(request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site'];
  return site === 'cross-site' || site === 'same-site';
}

/** Adds the session + rate-limit + CSRF hook to every route registered in `app` (an encapsulated scope). */
export function installSessionAuth(app: FastifyInstance, opts: SessionAuthOptions): void {
  const limiter = new TokenBucketLimiter({ ratePerSecond: opts.rateLimitPerSecond, burst: opts.rateLimitBurst });
  app.decorateRequest('auth', null as unknown as AuthContext);
  app.decorateRequest('dashboardSession', null as unknown as DashboardSession);
  app.addHook('onRequest', async (request) => {
    if (fromAnotherSite(request)) {
      throw new ApiError(403, 'cross_site_request', "The dashboard API answers only the dashboard's own pages (Sec-Fetch-Site says this came from another site)");
    }
    const id = presentedSession(request);
    const session = isDashboardSecret(id) ? await opts.store.getDashboardSession(hashDashboardSecret(id), Date.now()) : null;
    if (session === null) {
      throw new ApiError(401, 'unauthorized', NO_SESSION_MESSAGE);
    }
    // keyed by the sign-in, not the session id: a mode switch re-issues the id and must not refill the bucket
    const allowed = limiter.take(`${session.account_id} ${session.created_at}`);
    if (!allowed.ok) {
      throw new ApiError(429, 'rate_limited', `Rate limit exceeded; retry in ${allowed.retryAfterSeconds} s`, undefined, {
        'retry-after': String(allowed.retryAfterSeconds),
      });
    }
    if (!SAFE_METHODS.has(request.method)) {
      const presented = request.headers[CSRF_HEADER];
      if (typeof presented !== 'string' || !sameSecret(presented, session.csrf_token)) {
        throw new ApiError(
          403,
          'csrf_token_invalid',
          'Missing or wrong X-CSRF-Token header: send the csrf_token of GET /dashboard/api/session with every change',
        );
      }
    }
    request.auth = { key_id: SESSION_PRINCIPAL, account_id: session.account_id, mode: session.mode };
    request.dashboardSession = session;
  });
}
