/**
 * A do-it-yourself webhook sender on pg-boss 10 and the local PostgreSQL (issue 17's second peer):
 * Fastify `POST /v1/send` calls `send()` once per request (retryLimit 4, retryBackoff) and answers
 * 202; 16 × `work()` with batchSize 64, polling every 0.5 s, POST each batch's jobs at once with
 * undici (bench/peers/common.ts). The failed ones of a batch are failed by id (pg-boss retries
 * them), the rest complete. A pool of 20 connections.
 *
 * Run as a child by bench/run.ts (`--vs pgboss`). Environment: PEER_PG_URL (default
 * postgres://postgres@127.0.0.1:5432/test), PEER_PG_SCHEMA (pg-boss's schema, unique per run; the
 * bench drops it afterwards), plus common.ts's.
 */
import PgBoss from 'pg-boss';
import { type Delivery, deliver, deliveryAgent, runPeer } from './common.js';

const QUEUE = 'webhooks';

await runPeer(async () => {
  const agent = deliveryAgent();
  const boss = new PgBoss({
    connectionString: process.env.PEER_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    schema: process.env.PEER_PG_SCHEMA ?? `pgboss_${process.pid}`,
    max: 20,
  });
  boss.on('error', (err) => console.error('pg-boss:', err.message));
  await boss.start();
  await boss.createQueue(QUEUE);
  for (let i = 0; i < 16; i++) {
    await boss.work<Delivery>(QUEUE, { batchSize: 64, pollingIntervalSeconds: 0.5 }, async (jobs) => {
      const results = await Promise.allSettled(jobs.map((job) => deliver(agent, job.data, job.id)));
      const failed = jobs.filter((_, j) => results[j]!.status === 'rejected').map((job) => job.id);
      // failed first: pg-boss then completes only the jobs still active
      if (failed.length > 0) await boss.fail(QUEUE, failed);
    });
  }
  return {
    async enqueue(delivery) {
      const id = await boss.send(QUEUE, delivery as object, { retryLimit: 4, retryBackoff: true });
      if (id === null) throw new Error('pg-boss send returned no id');
      return id;
    },
    async close() {
      await boss.stop({ graceful: true, wait: true, timeout: 10_000 });
      await agent.close();
    },
  };
});
