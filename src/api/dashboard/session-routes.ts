/**
 * The dashboard's own API beside /dashboard/api/v1: who is signed in (and the CSRF token the
 * page must send back), switching the session between the live and test mode of its account,
 * signing out, and the home page's last hour.
 */
import type { FastifyInstance } from 'fastify';
import { hashDashboardSecret, newDashboardSecret } from '../../core/dashboard-tokens.js';
import type { DashboardSession, DashboardStore } from '../../store/store.js';
import { ApiError } from '../errors.js';
import { iso } from '../present.js';
import { dashboardSession, modeRequest, overview } from '../schemas/dashboard.js';
import { type ResponseOf, typedBySchemas } from '../schemas/provider.js';
import { type CookieSite, clearedSessionCookie, sessionCookie } from './cookie.js';
import { NO_SESSION_MESSAGE } from './session-auth.js';

const MINUTE_MS = 60 * 1000;
const HOUR_MS = 60 * MINUTE_MS;
const BUCKET_MS = 5 * 60 * 1000;
const BUCKETS = HOUR_MS / BUCKET_MS;

// out of /openapi.json (schemas/dashboard.ts says how the dashboard's types get them)
const hidden = { schema: { hide: true } };
const sessionSchema = { hide: true, response: { 200: dashboardSession } } as const;
const modeSchema = { hide: true, body: modeRequest, response: { 200: dashboardSession } } as const;
const overviewSchema = { hide: true, response: { 200: overview } } as const;

const sessionJson = (s: DashboardSession): ResponseOf<typeof dashboardSession> => ({
  account_id: s.account_id,
  mode: s.mode,
  csrf_token: s.csrf_token,
  expires_at: iso(s.expires_at),
});

/** `cookieSite`: the session cookie's site policy (`embedded` when the portal may be framed). */
export function sessionRoutes(untyped: FastifyInstance, store: DashboardStore, cookieSite: CookieSite = 'strict'): void {
  const app = typedBySchemas(untyped); // request and answer types from each route's schema
  app.get('/session', { schema: sessionSchema }, async (request) => sessionJson(request.dashboardSession));

  /**
   * `{"mode": "live"|"test"}`: the session now shows that mode of the same account — the account
   * comes from the session, never from the request. The session gets a new id (a new cookie) and
   * a new CSRF token, and keeps its end: switching never lengthens a session. The same mode
   * changes nothing.
   */
  app.post('/session/mode', { schema: modeSchema }, async (request, reply) => {
    const current = request.dashboardSession;
    if (request.body.mode === current.mode) return sessionJson(current);
    const now = Date.now();
    const sessionId = newDashboardSecret();
    const renewal = { id_hash: hashDashboardSecret(sessionId), csrf_token: newDashboardSecret() };
    const moved = await store.switchDashboardSessionMode(current.id_hash, request.body.mode, renewal, now);
    if (moved === null) throw new ApiError(401, 'unauthorized', NO_SESSION_MESSAGE);
    return reply.header('set-cookie', sessionCookie(request, sessionId, moved.expires_at - now, cookieSite)).send(sessionJson(moved));
  });

  app.post('/logout', hidden, async (request, reply) => {
    await store.deleteDashboardSession(request.dashboardSession.id_hash);
    return reply.code(204).header('set-cookie', clearedSessionCookie(request, cookieSite)).send();
  });

  /**
   * The last hour up to now, from the per-minute counters (cheap whatever the traffic): deliveries
   * accepted, and how many attempts left a delivery delivered, retrying, rejected or dead_letter;
   * every dead letter now; attempts (and failed ones: any outcome but delivered) in 12 five-minute
   * buckets from `since`, which is a whole minute: the window is the 60 minutes that end with the
   * current one.
   */
  app.get('/overview', { schema: overviewSchema }, async (request) => {
    const until = Date.now();
    // whole minutes (the counters' grain): the 60 minutes that end with the current one
    const since = (Math.floor(until / MINUTE_MS) + 1) * MINUTE_MS - HOUR_MS;
    const { account_id, mode } = request.auth;
    const counts = await store.dashboardOverview(account_id, mode, { since, until, bucket_ms: BUCKET_MS, buckets: BUCKETS });
    const series = counts.attempt_buckets.map((b, i) => ({ at: iso(since + i * BUCKET_MS), attempts: b.attempts, failures: b.failures }));
    return { since: iso(since), until: iso(until), deliveries: counts.totals, dead_letter_count: counts.dead_letter, series } satisfies ResponseOf<
      typeof overview
    >;
  });
}
