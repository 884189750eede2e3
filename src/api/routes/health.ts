/** Liveness and readiness probes (no auth). */
import type { FastifyInstance } from 'fastify';
import { storageHealthOf } from '../../store/storage-faults.js';
import type { Store } from '../../store/store.js';

const status = (word: string) =>
  ({ type: 'object', required: ['status'], properties: { status: { type: 'string', enum: [word] } } }) as const;
const liveSchema = {
  summary: 'Liveness: the process answers',
  tags: ['operations'],
  response: { 200: { description: 'The process is up.', ...status('ok') } },
};
const readySchema = {
  summary: 'Readiness: the store is reachable, migrated and taking writes (503 when not)',
  tags: ['operations'],
  response: {
    200: { description: 'Ready to serve.', ...status('ready') },
    503: {
      description: 'The store is unreachable, not migrated yet, or failing (out of disk space, read-only, …: see harepost_store_errors_total).',
      ...status('unavailable'),
    },
  },
};

export function healthRoutes(app: FastifyInstance, store: Store): void {
  const storage = storageHealthOf(store);
  app.get('/healthz', { schema: liveSchema }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: readySchema }, async (_request, reply) => {
    // a storage fault seen lately, not yet cleared by a commit that succeeded, makes the process not ready
    const ready = storage?.current() == null && (await store.ready().catch(() => false));
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable' });
  });
}
