/**
 * `npm run bench`: Harepost measured end to end on this machine, alone or side by side with a
 * do-it-yourself sender (issue 17: `--vs bullmq` or `--vs pgboss`, bench/peers/).
 *
 * Starts a receiver process and a loopback DNS server, then for each round (`--rounds`), in this
 * order: `harepost serve` (built dist/) on each store, then the peer, each as a child process,
 * one at a time, through the same driver and receiver. Prints, side by side:
 *   - receiver ceiling: requests/s the receiver takes straight from this driver (the upper bound),
 *     measured at the start of each round; every throughput figure carries its ratio to it;
 *   - sends accepted/s through POST /v1/send (Harepost: 202 = committed to the store);
 *   - deliveries completed/s end to end (first send to last arrival at the receiver), and the CPU
 *     per delivery of the system under test: all CPUs' busy time (/proc/stat) over that phase, less
 *     the driver's and the receiver's own (`process.cpuUsage()`), ÷ deliveries;
 *   - p50/p99 from send (and, Harepost only, from 202) to arrival at a fixed offered load, and the
 *     CPU per delivery at that load;
 *   - Harepost only: events/s accepted, each fanned out to --fanout destinations in one commit,
 *     and their deliveries/s end to end (signed, as every event delivery is).
 * The peers have no authentication, idempotency or attempt history: the 202→arrival and event
 * figures are not measured for them.
 * Options: --n 20000 --concurrency 64 --rate 1000 --seconds 10 --events 2000 --fanout 10 --http
 *          --store sqlite|postgres|both --vs bullmq|pgboss --rounds 1
 */
import { rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import {
  type ApiAnswer,
  benchDatabase,
  type CpuSpent,
  machineBusyMs,
  awaitArrivals,
  measureReceiverCeiling,
  measureSendThroughput,
  percentile,
  runMain,
  sleep,
  startCpuMeter,
  startReceiverProcess,
  startService,
  type StoreKind,
  wallNow,
  startBenchPlace,
} from './harness.js';
import { PEER_KINDS, PEER_TITLES, type PeerKind, startPeer } from './peers/start-peer.js';

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '64' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    http: { type: 'boolean', default: false },
    events: { type: 'string', default: '2000' },
    fanout: { type: 'string', default: '10' },
    store: { type: 'string' },
    vs: { type: 'string' },
    rounds: { type: 'string', default: '1' },
  },
});
const N = Number(args.n);
const CONCURRENCY = Number(args.concurrency);
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const TLS = !args.http;
const EVENTS = Number(args.events);
const FANOUT = Number(args.fanout);
const ROUNDS = Number(args.rounds);
const PEER = args.vs as PeerKind | undefined;
if (PEER !== undefined && !PEER_KINDS.includes(PEER)) throw new Error(`--vs must be one of ${PEER_KINDS.join(', ')}`);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error('--rounds must be a whole number ≥ 1');
// With --vs, Harepost runs on the store the peer's queue lives in, unless --store says otherwise.
const STORE_ARG = args.store ?? (PEER === 'bullmq' ? 'sqlite' : PEER === 'pgboss' ? 'postgres' : 'both');
const STORES: readonly StoreKind[] = STORE_ARG === 'both' ? ['sqlite', 'postgres'] : [STORE_ARG as StoreKind];
const HOST = 'bench.example.test';

type System = { kind: 'harepost'; store: StoreKind } | { kind: 'peer'; peer: PeerKind };
const SYSTEMS: System[] = [...STORES.map((store): System => ({ kind: 'harepost', store })), ...(PEER ? [{ kind: 'peer', peer: PEER } as System] : [])];

const systemName = (s: System) =>
  s.kind === 'harepost' ? `Harepost ${s.store === 'sqlite' ? 'SQLite' : 'PostgreSQL'}` : s.peer === 'bullmq' ? 'BullMQ' : 'pg-boss';
const systemTitle = (s: System) =>
  s.kind === 'harepost'
    ? s.store === 'sqlite'
      ? 'Harepost, embedded SQLite store (fdatasync before 202)'
      : 'Harepost, PostgreSQL store (same machine)'
    : PEER_TITLES[s.peer];

/** What one system measured in one round. Undefined figures were not measured for it. */
interface Result {
  column: string;
  ceiling: number;
  restBusyMsPerSecond: number;
  sendsPerSecond: number;
  deliveriesPerSecond: number;
  delivered: number;
  duplicates: number;
  cpu: CpuSpent;
  latencyIssued: number[];
  latencyAccepted?: number[];
  latencyDelivered: number;
  latencyCpu: CpuSpent;
  events?: { perSecond: number; deliveriesPerSecond: number; delivered: number };
}

async function main() {
  const { dir, pki, dns } = await startBenchPlace('bench', HOST);

  const receiver = await startReceiverProcess(TLS ? pki : undefined);
  const receiverPort = receiver.port;
  const scheme = TLS ? 'https' : 'http';
  const targetBase = `${scheme}://${HOST}:${receiverPort}`;

  const sendBody = (i: number) => ({ target: `${targetBase}/hook`, body: { event: 'order.paid', id: `ord_${i}`, amount_cents: 4500 } });

  console.log(`\nHarepost benchmark — ${TLS ? 'HTTPS' : 'HTTP'} receiver, ${cpus().length} CPUs, Node ${process.version}`);
  console.log(`n=${N} concurrency=${CONCURRENCY} offered load=${RATE}/s for ${SECONDS}s, events=${EVENTS} × ${FANOUT}, rounds=${ROUNDS}`);
  console.log(`order of each round: ${SYSTEMS.map(systemName).join(', ')}`);

  const results: Result[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const ceiling = await measureCeiling();
    console.log(`round ${round}: receiver ceiling (driver → receiver direct) ${ceiling.toFixed(0)} req/s`);
    for (const system of SYSTEMS) {
      const column = ROUNDS > 1 ? `${systemName(system)} #${round}` : systemName(system);
      const result = await measureSystem(system, column, ceiling);
      console.log(`  ${column}: ${result.deliveriesPerSecond.toFixed(0)} deliveries/s`);
      results.push(result);
    }
  }
  printTable(results);

  receiver.stop();
  await dns.close();
  rmSync(dir, { recursive: true, force: true });

  /** This driver straight to the receiver, same concurrency, same payload size: requests/s. */
  function measureCeiling(): Promise<number> {
    return measureReceiverCeiling({
      receiver,
      base: targetBase.replace(HOST, '127.0.0.1'),
      tls: TLS ? { ca: pki.caCertPem, servername: HOST } : null,
      payload: JSON.stringify(sendBody(0).body),
      n: N,
      concurrency: CONCURRENCY,
    });
  }

  async function measureSystem(system: System, column: string, ceiling: number): Promise<Result> {
    // What the machine does with nothing under test running (other work on this box counts in CPU per delivery too).
    const rest0 = machineBusyMs();
    await sleep(1000);
    const restBusyMsPerSecond = machineBusyMs() - rest0;

    let call: (method: 'POST', path: string, body: unknown) => Promise<ApiAnswer>;
    let stop: () => Promise<void>;
    let database: { drop(): Promise<void> } | null = null;
    if (system.kind === 'harepost') {
      const db = benchDatabase(system.store, dir);
      database = db;
      const service = await startService({ databaseUrl: db.url, dns, caCertPath: TLS ? pki.caCertPath : null, connections: CONCURRENCY });
      await service.verifyDomain(HOST);
      call = service.call;
      stop = () => service.stop();
    } else {
      const peer = await startPeer(system.peer, { dns, caCertPath: TLS ? pki.caCertPath : null, connections: CONCURRENCY });
      call = peer.call;
      stop = () => peer.stop();
    }

    // 1. Throughput: N sends as fast as CONCURRENCY callers can go; delivery runs alongside.
    const throughput = await measureSendThroughput({ call, receiver, sendBody, n: N, concurrency: CONCURRENCY });

    // 2. Latency at a fixed offered load: RATE sends/s for SECONDS, open loop.
    const latAccepted = new Map<string, number>();
    const latIssued = new Map<string, number>();
    const total = RATE * SECONDS;
    const latMeter = await startCpuMeter(receiver);
    const start = performance.now();
    const inflight: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
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
    await awaitArrivals(receiver, total, 120_000);
    const latencyCpu = await latMeter.stop();
    const known = (await receiver.arrivals()).filter(([id]) => latAccepted.has(id));
    // Harepost's dispatcher is woken by the commit itself, so a delivery can land before the 202 is
    // back at the caller: "accept" latency can be ≤ 0. "issued" counts from the moment the send left.
    const latencyAccepted = known.map(([id, t]) => t - latAccepted.get(id)!).sort((a, b) => a - b);
    const latencyIssued = known.map(([id, t]) => t - latIssued.get(id)!).sort((a, b) => a - b);
    await receiver.reset();

    const result: Result = {
      column,
      ceiling,
      restBusyMsPerSecond,
      sendsPerSecond: throughput.sendsPerSecond,
      deliveriesPerSecond: throughput.deliveriesPerSecond,
      delivered: throughput.delivered,
      duplicates: throughput.duplicates,
      cpu: throughput.cpu,
      latencyIssued,
      latencyDelivered: known.length,
      latencyCpu,
    };
    // 3. Events (Harepost only): EVENTS events, each fanned out to FANOUT subscribed destinations.
    if (system.kind === 'harepost') {
      result.latencyAccepted = latencyAccepted;
      if (EVENTS > 0) result.events = await measureEvents(call);
    }

    await stop();
    await receiver.reset();
    await database?.drop();
    return result;
  }

  async function measureEvents(call: (method: 'POST', path: string, body: unknown) => Promise<ApiAnswer>): Promise<NonNullable<Result['events']>> {
    for (let d = 0; d < FANOUT; d++) {
      const dest = await call('POST', '/v1/destinations', { url: `${targetBase}/dest/${d}`, events: ['order.*'] });
      if (dest.status !== 201) throw new Error(`destination ${dest.status} ${JSON.stringify(dest.body)}`);
    }
    let nextEvent = 0;
    const ev0 = wallNow();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (nextEvent < EVENTS) {
          const i = nextEvent++;
          const r = await call('POST', '/v1/events', { type: 'order.created', body: { order_id: `ord_${i}`, amount_cents: 4500 } });
          if (r.status !== 202 || r.body.deliveries.length !== FANOUT) throw new Error(`event ${r.status} ${JSON.stringify(r.body)}`);
        }
      }),
    );
    const eventSeconds = (wallNow() - ev0) / 1000;
    await awaitArrivals(receiver, EVENTS * FANOUT, 300_000);
    const arrivals = await receiver.arrivals();
    const last = Math.max(...arrivals.map(([, t]) => t));
    const delivered = new Set(arrivals.map(([id]) => id)).size;
    return { perSecond: EVENTS / eventSeconds, deliveriesPerSecond: delivered / ((last - ev0) / 1000), delivered };
  }
}

/** The figures as rows, one column per system and round, in the order they ran. */
function printTable(results: Result[]): void {
  const NA = '—';
  const int = (n: number) => Math.round(n).toLocaleString('en-US');
  const vsCeiling = (n: number, r: Result) => `${int(n)} (${(n / r.ceiling).toFixed(2)})`;
  const perDelivery = (cpu: CpuSpent, deliveries: number) => (deliveries > 0 ? `${(cpu.systemMs / deliveries).toFixed(3)} ms` : NA);
  const breakdown = (cpu: CpuSpent) => `${int(cpu.machineMs)}−${int(cpu.driverMs)}−${int(cpu.receiverMs)}`;
  const p = (xs: number[] | undefined) => (xs ? `${percentile(xs, 50).toFixed(2)} / ${percentile(xs, 99).toFixed(2)}` : NA);
  const total = RATE * SECONDS;

  const rows: Array<[string, (r: Result) => string]> = [
    ['receiver ceiling (driver → receiver direct), req/s', (r) => int(r.ceiling)],
    ['machine busy at rest before start, ms/s', (r) => int(r.restBusyMsPerSecond)],
    ['sends accepted (202), per second (÷ ceiling)', (r) => vsCeiling(r.sendsPerSecond, r)],
    ['deliveries completed end to end, per second (÷ ceiling)', (r) => vsCeiling(r.deliveriesPerSecond, r)],
    ['  CPU per delivery (service + its database or broker)', (r) => perDelivery(r.cpu, r.delivered)],
    ['  CPU ms: machine − driver − receiver', (r) => breakdown(r.cpu)],
    ['  delivered / sent (duplicates)', (r) => `${r.delivered} / ${N} (${r.duplicates})`],
    [`send issued → delivered at ${RATE}/s: p50 / p99 ms`, (r) => p(r.latencyIssued)],
    [`202 received → delivered at ${RATE}/s: p50 / p99 ms`, (r) => p(r.latencyAccepted)],
    [`  CPU per delivery at ${RATE}/s`, (r) => perDelivery(r.latencyCpu, r.latencyDelivered)],
    ['  delivered / sent at fixed load', (r) => `${r.latencyDelivered} / ${total}`],
    [`events accepted (${FANOUT} deliveries each), per second (÷ ceiling)`, (r) => (r.events ? vsCeiling(r.events.perSecond, r) : NA)],
    ['event deliveries end to end, per second (÷ ceiling)', (r) => (r.events ? vsCeiling(r.events.deliveriesPerSecond, r) : NA)],
    ['  delivered / expected', (r) => (r.events ? `${r.events.delivered} / ${EVENTS * FANOUT}` : NA)],
  ];
  const labelWidth = Math.max(...rows.map(([label]) => label.length));
  const cells = rows.map(([, f]) => results.map(f));
  const widths = results.map((r, c) => Math.max(r.column.length, ...cells.map((row) => row[c]!.length)));
  const line = (label: string, values: string[]) => console.log(`${label.padEnd(labelWidth)}  ${values.map((v, c) => v.padStart(widths[c]!)).join('  ')}`);

  console.log('');
  for (const system of SYSTEMS) console.log(`${systemName(system)}: ${systemTitle(system)}`);
  console.log('');
  line('', results.map((r) => r.column));
  rows.forEach(([label], i) => line(label, cells[i]!));
  console.log(
    '\nCPU per delivery: busy time of all CPUs (/proc/stat: user+nice+system+irq+softirq+steal) over the phase, less this' +
      '\ndriver\'s (and the DNS server it hosts) and the receiver\'s own process.cpuUsage(), ÷ distinct deliveries in the phase;' +
      '\nanything else running on this machine counts too (see "machine busy at rest").',
  );
  if (PEER) {
    console.log(
      `${systemName({ kind: 'peer', peer: PEER })} has no authentication, idempotency or attempt history: only sends/s, deliveries/s,` +
        '\nCPU per delivery and send → arrival latency are measured for it (— : not measured).',
    );
  }
}

runMain(main);
