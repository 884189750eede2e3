/**
 * What both do-it-yourself senders (bench/peers/bullmq-sender.ts, bench/peers/pgboss-sender.ts)
 * share, so that they differ only in their queue: the Fastify `POST /v1/send` that enqueues
 * `{target, body}` and answers 202, the undici Agent the workers POST with (one keep-alive Agent,
 * 128 connections per origin, names resolved through the bench's loopback DNS server), and the
 * child-process life cycle (port reported over IPC, SIGTERM or a lost parent stops it).
 *
 * These are what a team would write in an afternoon: no authentication, no validation of the
 * target, no address guard, no attempt history, no signatures. Each delivery carries its job id in
 * `X-Harepost-Queue-Id` only so that bench/receiver.ts counts its arrivals the way it counts
 * Harepost's.
 *
 * Environment: PEER_DNS_SERVER ("127.0.0.1:port", the bench's DNS server); NODE_EXTRA_CA_CERTS
 * (the bench's test CA, as for Harepost).
 */
import { type LookupAddress, type LookupOneOptions, Resolver } from 'node:dns';
import Fastify from 'fastify';
import { Agent } from 'undici';

export interface Delivery {
  target: string;
  body: unknown;
}

/** One keep-alive Agent for every worker: 128 connections per origin, DNS through PEER_DNS_SERVER. */
export function deliveryAgent(): Agent {
  const resolver = new Resolver();
  if (process.env.PEER_DNS_SERVER) resolver.setServers([process.env.PEER_DNS_SERVER]);
  // net.connect's `lookup` hook (undici passes `connect` options through to tls/net.connect).
  const lookup = (
    hostname: string,
    options: LookupOneOptions & { all?: boolean },
    callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    resolver.resolve4(hostname, (err, addresses) => {
      if (err) return callback(err, '');
      if (addresses.length === 0) return callback(new Error(`no A record for ${hostname}`), '');
      if (options.all) return callback(null, addresses.map((address) => ({ address, family: 4 })));
      callback(null, addresses[0]!, 4);
    });
  };
  return new Agent({
    connections: 128,
    keepAliveTimeout: 60_000,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
    connect: { lookup } as never,
  });
}

/** POSTs one delivery; throws on a network error or a non-2xx answer (the queue retries it). */
export async function deliver(agent: Agent, delivery: Delivery, id: string): Promise<void> {
  const url = new URL(delivery.target);
  const res = await agent.request({
    origin: url.origin,
    path: url.pathname + url.search,
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-harepost-queue-id': id },
    body: JSON.stringify(delivery.body),
  });
  await res.body.dump();
  if (res.statusCode < 200 || res.statusCode >= 300) throw new Error(`${delivery.target} answered ${res.statusCode}`);
}

export interface Peer {
  /** Puts one delivery on the queue (committed when it resolves); returns its job id. */
  enqueue(delivery: Delivery): Promise<string>;
  /** Stops the workers and closes the queue's connections. */
  close(): Promise<void>;
}

/**
 * Serves `POST /v1/send` on 127.0.0.1 (an OS-chosen port, sent to the parent as `{port}`), and
 * stops cleanly on SIGTERM, SIGINT or when the parent goes away.
 */
export async function runPeer(start: () => Promise<Peer>): Promise<void> {
  const peer = await start();
  const app = Fastify({ logger: false });
  app.post('/v1/send', async (req, reply) => {
    const { target, body } = req.body as Delivery;
    const id = await peer.enqueue({ target, body });
    return reply.code(202).send({ queue_id: id });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      try {
        await app.close();
        await peer.close();
        process.exit(0);
      } catch (err) {
        console.error('peer: stop failed:', err);
        process.exit(1);
      }
    })();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.once('disconnect', stop);
  if (process.send) process.send({ port });
  else console.log(`listening on http://127.0.0.1:${port}`);
}
