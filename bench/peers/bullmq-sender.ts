/**
 * A do-it-yourself webhook sender on BullMQ 5 and the local Redis (issue 17's first peer): Fastify
 * `POST /v1/send` adds `{target, body}` to one queue and answers 202; one Worker with concurrency
 * 64 POSTs each job with undici (bench/peers/common.ts). 5 attempts with exponential backoff,
 * completed jobs removed.
 *
 * Run as a child by bench/run.ts (`--vs bullmq`). Environment: PEER_QUEUE (the queue's name, unique
 * per run; the bench obliterates it afterwards), PEER_REDIS_URL (default redis://127.0.0.1:6379),
 * plus common.ts's.
 */
import { Queue, Worker } from 'bullmq';
import { type Delivery, deliver, deliveryAgent, runPeer } from './common.js';

const redis = new URL(process.env.PEER_REDIS_URL ?? 'redis://127.0.0.1:6379');
const connection = { host: redis.hostname, port: Number(redis.port || 6379), maxRetriesPerRequest: null };
const name = process.env.PEER_QUEUE ?? `webhooks-${process.pid}`;

await runPeer(async () => {
  const agent = deliveryAgent();
  const queue = new Queue<Delivery>(name, {
    connection,
    defaultJobOptions: { attempts: 5, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: true },
  });
  const worker = new Worker<Delivery>(name, (job) => deliver(agent, job.data, job.id!), { connection, concurrency: 64 });
  worker.on('error', (err) => console.error('bullmq worker:', err.message));
  await Promise.all([queue.waitUntilReady(), worker.waitUntilReady()]);
  return {
    async enqueue(delivery) {
      const job = await queue.add('deliver', delivery);
      return job.id!;
    },
    async close() {
      await worker.close();
      await queue.close();
      await agent.close();
    },
  };
});
