/**
 * The dashboard's own API beside /dashboard/api/v1: who is signed in (and the CSRF token the
 * page must send back), signing out, and the home page's last hour.
 */
import type { FastifyInstance } from 'fastify';
import type { DeliveryStatus, Store } from '../../store/store.js';
import { iso } from '../present.js';
import { clearedSessionCookie } from './cookie.js';

const HOUR_MS = 60 * 60 * 1000;
const BUCKET_MS = 5 * 60 * 1000;
const BUCKETS = HOUR_MS / BUCKET_MS;
/** The statuses the home page counts, zeros included (the contract with the front-end). */
const COUNTED: readonly DeliveryStatus[] = ['queued', 'retrying', 'delivered', 'dead_letter', 'rejected'];

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
   * The last hour up to now: deliveries created in it by current status, every dead letter, and
   * attempts (and failed ones: any outcome but delivered) in 12 five-minute buckets from `since`.
   */
  app.get('/overview', hidden, async (request) => {
    const until = Date.now();
    const since = until - HOUR_MS;
    const { account_id, mode } = request.auth;
    const counts = await store.dashboardOverview(account_id, mode, { since, until, bucket_ms: BUCKET_MS });
    const deliveries = Object.fromEntries(COUNTED.map((s) => [s, counts.created_by_status[s] ?? 0]));
    const series = Array.from({ length: BUCKETS }, (_, i) => ({ at: iso(since + i * BUCKET_MS), attempts: 0, failures: 0 }));
    for (const b of counts.attempt_buckets) {
      const slot = series[b.bucket];
      if (slot) Object.assign(slot, { attempts: b.attempts, failures: b.failures });
    }
    return { since: iso(since), until: iso(until), deliveries, dead_letter_count: counts.dead_letter, series };
  });
}
