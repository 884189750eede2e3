/**
 * The dashboard's own API beside /dashboard/api/v1: who is signed in (and the CSRF token the
 * page must send back), signing out, and the home page's last hour.
 */
import type { FastifyInstance } from 'fastify';
import type { Store } from '../../store/store.js';
import { iso } from '../present.js';
import { clearedSessionCookie } from './cookie.js';

const MINUTE_MS = 60 * 1000;
const HOUR_MS = 60 * MINUTE_MS;
const BUCKET_MS = 5 * 60 * 1000;
const BUCKETS = HOUR_MS / BUCKET_MS;

const hidden = { schema: { hide: true } };

export function sessionRoutes(app: FastifyInstance, store: Store): void {
  app.get('/session', hidden, async (request) => {
    const s = request.dashboardSession;
    return { account_id: s.account_id, mode: s.mode, csrf_token: s.csrf_token, expires_at: iso(s.expires_at) };
  });

  app.post('/logout', hidden, async (request, reply) => {
    await store.deleteDashboardSession(request.dashboardSession.id_hash);
    return reply.code(204).header('set-cookie', clearedSessionCookie(request)).send();
  });

  /**
   * The last hour up to now, from the per-minute counters (cheap whatever the traffic): deliveries
   * accepted, and how many attempts left a delivery delivered, retrying, rejected or dead_letter;
   * every dead letter now; attempts (and failed ones: any outcome but delivered) in 12 five-minute
   * buckets from `since`, which is a whole minute: the window is the 60 minutes that end with the
   * current one.
   */
  app.get('/overview', hidden, async (request) => {
    const until = Date.now();
    // whole minutes (the counters' grain): the 60 minutes that end with the current one
    const since = (Math.floor(until / MINUTE_MS) + 1) * MINUTE_MS - HOUR_MS;
    const { account_id, mode } = request.auth;
    const counts = await store.dashboardOverview(account_id, mode, { since, until, bucket_ms: BUCKET_MS, buckets: BUCKETS });
    const series = counts.attempt_buckets.map((b, i) => ({ at: iso(since + i * BUCKET_MS), attempts: b.attempts, failures: b.failures }));
    return { since: iso(since), until: iso(until), deliveries: counts.totals, dead_letter_count: counts.dead_letter, series };
  });
}
