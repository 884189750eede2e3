/**
 * `npm run bench`: Harepost on the embedded store, measured end to end on this machine.
 *
 * Starts a receiver process, a loopback DNS server and `harepost serve` (built dist/) as a child,
 * then prints, from one run:
 *   - receiver ceiling: requests/s the receiver takes straight from this driver (the upper bound);
 *   - sends accepted/s through POST /v1/send (202 = committed to the store);
 *   - deliveries completed/s end to end (first send to last arrival at the receiver);
 *   - p50/p99 from 202 to arrival at the receiver, at a fixed offered load.
 *   - events/s accepted, each fanned out to --fanout destinations in one commit, and their
 *     deliveries/s end to end (signed, as every event delivery is).
 * Options: --n 20000 --concurrency 64 --rate 1000 --seconds 10 --events 2000 --fanout 10 --http
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { createTestPki } from '../test/support/ca.js';
import { startDnsServer } from '../test/support/dns-server.js';
import { benchDatabase, onCleanup, percentile, runMain, startReceiverProcess, startService, type StoreKind, wallNow } from './harness.js';

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '64' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    http: { type: 'boolean', default: false },
    events: { type: 'string', default: '2000' },
    fanout: { type: 'string', default: '10' },
    store: { type: 'string', default: 'both' },
  },
});
const N = Number(args.n);
const CONCURRENCY = Number(args.concurrency);
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const TLS = !args.http;
const EVENTS = Number(args.events);
const FANOUT = Number(args.fanout);
const STORES: readonly StoreKind[] = args.store === 'both' ? ['sqlite', 'postgres'] : [args.store as StoreKind];
const HOST = 'bench.example.test';

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'harepost-bench-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const pki = await createTestPki({ names: [HOST], dir: join(dir, 'pki') });
  const dns = await startDnsServer();
  onCleanup(() => dns.close());
  dns.setA(HOST, ['127.0.0.1']);

  const receiver = await startReceiverProcess(TLS ? pki : undefined);
  const receiverPort = receiver.port;
  const scheme = TLS ? 'https' : 'http';
  const targetBase = `${scheme}://${HOST}:${receiverPort}`;

  const sendBody = (i: number) => ({ target: `${targetBase}/hook`, body: { event: 'order.paid', id: `ord_${i}`, amount_cents: 4500 } });

  // 1. Receiver ceiling: this driver straight to the receiver, same concurrency, same payload size.
  const direct = new Pool(targetBase.replace(HOST, '127.0.0.1'), {
    connections: CONCURRENCY,
    connect: TLS ? { ca: pki.caCertPem, servername: HOST } : {},
  });
  const payload = JSON.stringify(sendBody(0).body);
  let done = 0;
  const ceilStart = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (done < N) {
        done++;
        const r = await direct.request({ method: 'POST', path: '/hook', headers: { 'content-type': 'application/json' }, body: payload });
        await r.body.dump();
      }
    }),
  );
  const ceiling = N / ((performance.now() - ceilStart) / 1000);
  await direct.close();
  await receiver.reset();

  console.log(`\nHarepost benchmark — ${TLS ? 'HTTPS' : 'HTTP'} receiver, ${cpus().length} CPUs, Node ${process.version}`);
  console.log(`n=${N} concurrency=${CONCURRENCY} offered load=${RATE}/s for ${SECONDS}s, events=${EVENTS} × ${FANOUT}`);
  console.log(`receiver ceiling (driver → receiver direct), req/s: ${ceiling.toFixed(0)}`);
  for (const store of STORES) {
    await measureStore(store);
  }

  receiver.stop();
  await dns.close();
  rmSync(dir, { recursive: true, force: true });

  async function measureStore(store: StoreKind) {
  const database = benchDatabase(store, dir);
  const service = await startService({
    databaseUrl: database.url,
    dns,
    caCertPath: TLS ? pki.caCertPath : null,
    connections: CONCURRENCY,
  });
  const call = service.call;
  await service.verifyDomain(HOST);

  // 2. Throughput: N sends as fast as CONCURRENCY callers can go; the dispatcher runs alongside.
  let next = 0;
  const acceptedAt = new Map<string, number>();
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < N) {
        const i = next++;
        const r = await call('POST', '/v1/send', sendBody(i));
        if (r.status !== 202) throw new Error(`send ${r.status} ${JSON.stringify(r.body)}`);
        acceptedAt.set(r.body.queue_id, Date.now());
      }
    }),
  );
  const acceptSeconds = (Date.now() - t0) / 1000;
  let arrived: { arrivals: Array<[string, number]> } = { arrivals: [] };
  const deadline = Date.now() + 300_000;
  for (;;) {
    const c = await receiver.count();
    if (c.arrivals >= N || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  arrived = { arrivals: await receiver.arrivals() };
  const lastArrival = Math.max(...arrived.arrivals.map(([, t]) => t));
  const e2eSeconds = (lastArrival - t0) / 1000;
  const distinct = new Set(arrived.arrivals.map(([id]) => id)).size;
  await receiver.reset();

  // 3. Latency at a fixed offered load: RATE sends/s for SECONDS, open loop.
  const latAccepted = new Map<string, number>();
  const latIssued = new Map<string, number>();
  const total = RATE * SECONDS;
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const issued = wallNow();
    inflight.push(
      call('POST', '/v1/send', sendBody(i)).then((r) => {
        if (r.status !== 202) throw new Error(`send ${r.status}`);
        latAccepted.set(r.body.queue_id, wallNow());
        latIssued.set(r.body.queue_id, issued);
      }),
    );
  }
  await Promise.all(inflight);
  const latDeadline = Date.now() + 120_000;
  for (;;) {
    const c = await receiver.count();
    if (c.arrivals >= total || Date.now() > latDeadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const lat = { arrivals: await receiver.arrivals() };
  const known = lat.arrivals.filter(([id]) => latAccepted.has(id));
  // The dispatcher is woken by the commit itself, so a delivery can land before the 202 is back
  // at the caller: "accept" latency can be ≤ 0. "issued" counts from the moment the send left.
  const latencies = known.map(([id, t]) => t - latAccepted.get(id)!).sort((a, b) => a - b);
  const fromIssue = known.map(([id, t]) => t - latIssued.get(id)!).sort((a, b) => a - b);

  await receiver.reset();

  // 4. Events: EVENTS events, each fanned out to FANOUT subscribed destinations (one commit per event).
  for (let d = 0; d < FANOUT; d++) {
    const dest = await call('POST', '/v1/destinations', { url: `${targetBase}/dest/${d}`, events: ['order.*'] });
    if (dest.status !== 201) throw new Error(`destination ${dest.status} ${JSON.stringify(dest.body)}`);
  }
  let nextEvent = 0;
  const ev0 = Date.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (nextEvent < EVENTS) {
        const i = nextEvent++;
        const r = await call('POST', '/v1/events', { type: 'order.created', body: { order_id: `ord_${i}`, amount_cents: 4500 } });
        if (r.status !== 202 || r.body.deliveries.length !== FANOUT) throw new Error(`event ${r.status} ${JSON.stringify(r.body)}`);
      }
    }),
  );
  const eventSeconds = (Date.now() - ev0) / 1000;
  const eventDeadline = Date.now() + 300_000;
  for (;;) {
    const c = await receiver.count();
    if (c.arrivals >= EVENTS * FANOUT || Date.now() > eventDeadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const evArrivals = { arrivals: await receiver.arrivals() };
  const evLast = Math.max(...evArrivals.arrivals.map(([, t]) => t));
  const evDistinct = new Set(evArrivals.arrivals.map(([id]) => id)).size;

  const row = (name: string, value: string) => console.log(`${name.padEnd(52)} ${value}`);
  console.log(`\n— ${store === 'postgres' ? 'PostgreSQL (same machine)' : 'embedded SQLite'} store —`);
  row('sends accepted (202, durable), per second', (N / acceptSeconds).toFixed(0));
  row('deliveries completed end to end, per second', (distinct / e2eSeconds).toFixed(0));
  row('  delivered / sent (distinct queue ids)', `${distinct} / ${N} (${arrived.arrivals.length - distinct} duplicates)`);
  row(`202 received → delivered at ${RATE}/s: p50 / p99 ms`, `${percentile(latencies, 50).toFixed(2)} / ${percentile(latencies, 99).toFixed(2)}`);
  row(`send issued → delivered at ${RATE}/s: p50 / p99 ms`, `${percentile(fromIssue, 50).toFixed(2)} / ${percentile(fromIssue, 99).toFixed(2)}`);
  row(`  delivered / sent at fixed load`, `${latencies.length} / ${total}`);
  row(`events accepted (202, ${FANOUT} deliveries each), per second`, (EVENTS / eventSeconds).toFixed(0));
  row('event deliveries completed end to end, per second', (evDistinct / ((evLast - ev0) / 1000)).toFixed(0));
  row('  delivered / expected', `${evDistinct} / ${EVENTS * FANOUT}`);

  await service.stop();
  await receiver.reset();
  await database.drop();
  }
}

runMain(main);
