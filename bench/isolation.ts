/**
 * `npm run bench:isolation`: one target that never answers must not slow the others (issue 7, item 3).
 *
 * Starts a loopback DNS server, two receiver processes on different origins and `harepost serve`
 * (built dist/) as a child:
 *   - healthy.example.test:<port A> answers 200 at once;
 *   - dead.example.test:<port B> accepts connections, reads each request and never answers, so
 *     every attempt holds its slot until `delivery.timeout_ms` (30,000, the most allowed) runs out.
 * After a warm-up:
 *   A. the healthy target alone: --n sends from --concurrency callers → deliveries/s end to end
 *      (first send to last arrival at the receiver), --rounds times;
 *   B. --dead deliveries queued for the dead target first; once its attempts are open (as many as
 *      the per-origin cap allows), the same --n sends to the healthy target → deliveries/s,
 *      --rounds times (all while the dead target's attempts hold their slots).
 * Prints each round, the medians, B/A of the medians (the bar: ≥ 90 %), the in-flight caps and
 * how many dead-target attempts were open. The rounds and medians are there because this machine
 * may be shared: one round of a few seconds is at the mercy of whatever else runs.
 *
 * Options: --n 10000 --concurrency 64 --dead 2000 --warmup 2000 --rounds 3 --store sqlite|postgres
 *          --max-in-flight 1024 --max-in-flight-per-origin 128 --http --check (exit 1 below the bar)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createTestPki } from '../test/support/ca.js';
import { startDnsServer } from '../test/support/dns-server.js';
import {
  type ReceiverProcess,
  type Service,
  type StoreKind,
  benchDatabase,
  onCleanup,
  runMain,
  sleep,
  startReceiverProcess,
  startService,
} from './harness.js';

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '64' },
    dead: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '3' },
    store: { type: 'string', default: 'sqlite' },
    'max-in-flight': { type: 'string', default: '1024' },
    'max-in-flight-per-origin': { type: 'string', default: '128' },
    http: { type: 'boolean', default: false },
    check: { type: 'boolean', default: false },
  },
});
const N = Number(args.n);
const CONCURRENCY = Number(args.concurrency);
const DEAD = Number(args.dead);
const WARMUP = Number(args.warmup);
const ROUNDS = Number(args.rounds);
const STORE = args.store as StoreKind;
const MAX_IN_FLIGHT = Number(args['max-in-flight']);
const PER_ORIGIN = Number(args['max-in-flight-per-origin']);
const TLS = !args.http;
const TIMEOUT_MS = 30_000;
const BAR = 0.9;
const HEALTHY_HOST = 'healthy.example.test';
const DEAD_HOST = 'dead.example.test';

if (STORE !== 'sqlite' && STORE !== 'postgres') throw new Error('--store must be sqlite or postgres');
for (const [name, v] of Object.entries({ n: N, concurrency: CONCURRENCY, dead: DEAD, warmup: WARMUP, rounds: ROUNDS })) {
  if (!Number.isInteger(v) || v < (name === 'warmup' || name === 'dead' ? 0 : 1)) throw new Error(`--${name} must be a whole number`);
}

/** `count` sends from CONCURRENCY callers; throws on anything but a 202. Returns the seconds taken. */
async function sendMany(service: Service, count: number, body: (i: number) => unknown): Promise<number> {
  let next = 0;
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, count) }, async () => {
      while (next < count) {
        const i = next++;
        const r = await service.call('POST', '/v1/send', body(i));
        if (r.status !== 202) throw new Error(`send ${r.status} ${JSON.stringify(r.body)}`);
      }
    }),
  );
  return (Date.now() - t0) / 1000;
}

/** Waits until `count` distinct arrivals (or 300 s); returns them. */
async function waitForArrivals(receiver: ReceiverProcess, count: number): Promise<Array<[string, number]>> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const c = await receiver.count();
    if (c.arrivals >= count || Date.now() > deadline) break;
    await sleep(50);
  }
  return receiver.arrivals();
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

interface PhaseResult {
  acceptedPerSecond: number;
  deliveriesPerSecond: number;
  delivered: number;
  duplicates: number;
  seconds: number;
}

/** N sends to the healthy target, timed from the first send to the last arrival. */
async function healthyPhase(service: Service, healthy: ReceiverProcess, target: string, tag: string): Promise<PhaseResult> {
  await healthy.reset();
  const t0 = Date.now();
  const acceptSeconds = await sendMany(service, N, (i) => ({
    target,
    body: { event: 'order.paid', id: `${tag}_${i}`, amount_cents: 4500 },
  }));
  const arrivals = await waitForArrivals(healthy, N);
  const distinct = new Set(arrivals.map(([id]) => id)).size;
  const last = Math.max(...arrivals.map(([, t]) => t));
  const seconds = (last - t0) / 1000;
  return {
    acceptedPerSecond: N / acceptSeconds,
    deliveriesPerSecond: distinct / seconds,
    delivered: distinct,
    duplicates: arrivals.length - distinct,
    seconds,
  };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'harepost-isolation-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const pki = await createTestPki({ names: [HEALTHY_HOST, DEAD_HOST], dir: join(dir, 'pki') });
  const dns = await startDnsServer();
  onCleanup(() => dns.close());
  dns.setA(HEALTHY_HOST, ['127.0.0.1']);
  dns.setA(DEAD_HOST, ['127.0.0.1']);

  const healthy = await startReceiverProcess(TLS ? pki : undefined);
  const dead = await startReceiverProcess(TLS ? pki : undefined);
  const scheme = TLS ? 'https' : 'http';
  const healthyTarget = `${scheme}://${HEALTHY_HOST}:${healthy.port}/hook`;
  const deadTarget = `${scheme}://${DEAD_HOST}:${dead.port}/hang`;

  const database = benchDatabase(STORE, dir, 'hp_isolation');
  const service = await startService({
    databaseUrl: database.url,
    dns,
    caCertPath: TLS ? pki.caCertPath : null,
    connections: CONCURRENCY,
    env: {
      HAREPOST_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT),
      HAREPOST_MAX_IN_FLIGHT_PER_ORIGIN: String(PER_ORIGIN),
      // the dead target's attempts would hold a SIGTERM for the whole grace: give them back at once
      HAREPOST_SHUTDOWN_GRACE_MS: '1000',
    },
  });
  await service.verifyDomain(HEALTHY_HOST);
  await service.verifyDomain(DEAD_HOST);

  const storeName = STORE === 'postgres' ? 'PostgreSQL (same machine)' : 'embedded SQLite';
  console.log(`\nHarepost isolation — ${TLS ? 'HTTPS' : 'HTTP'} receivers, ${cpus().length} CPUs, Node ${process.version}, ${storeName} store`);
  console.log(
    `caps: HAREPOST_MAX_IN_FLIGHT=${MAX_IN_FLIGHT} HAREPOST_MAX_IN_FLIGHT_PER_ORIGIN=${PER_ORIGIN}; ` +
      `n=${N} concurrency=${CONCURRENCY} warm-up=${WARMUP}; dead target: ${DEAD} deliveries, timeout_ms=${TIMEOUT_MS}`,
  );

  // Warm-up (JIT, connections, TLS sessions): not measured.
  if (WARMUP > 0) {
    await sendMany(service, WARMUP, (i) => ({ target: healthyTarget, body: { event: 'warmup', id: `w_${i}` } }));
    await waitForArrivals(healthy, WARMUP);
    await healthy.reset();
  }

  // A. The healthy target alone.
  const a: PhaseResult[] = [];
  for (let r = 0; r < ROUNDS; r++) a.push(await healthyPhase(service, healthy, healthyTarget, `a${r}`));

  // B. Queue DEAD deliveries for the dead target, wait until its attempts hold their slots.
  const queuedAt = Date.now();
  await sendMany(service, DEAD, (i) => ({
    target: deadTarget,
    body: { event: 'order.paid', id: `dead_${i}` },
    delivery: { timeout_ms: TIMEOUT_MS },
  }));
  const wantOpen = Math.min(DEAD, PER_ORIGIN, MAX_IN_FLIGHT);
  for (;;) {
    const s = await dead.stats();
    if (s.hangOpen >= wantOpen) break;
    if (Date.now() - queuedAt > 20_000) {
      console.log(`(only ${s.hangOpen} of ${wantOpen} dead-target attempts open after 20 s; measuring anyway)`);
      break;
    }
    await sleep(50);
  }
  const openAtStart = (await dead.stats()).hangOpen;
  const inFlightAtStart = (await service.metrics()).get('harepost_attempts_in_flight') ?? NaN;

  // Sample the dead target's open attempts while B runs.
  let sampling = true;
  let openMin = openAtStart;
  let openMax = openAtStart;
  const sampler = (async () => {
    while (sampling) {
      const s = await dead.stats();
      openMin = Math.min(openMin, s.hangOpen);
      openMax = Math.max(openMax, s.hangOpen);
      await sleep(100);
    }
  })();
  const b: PhaseResult[] = [];
  for (let r = 0; r < ROUNDS; r++) b.push(await healthyPhase(service, healthy, healthyTarget, `b${r}`));
  sampling = false;
  await sampler;
  const deadStats = await dead.stats();
  const sinceQueued = (Date.now() - queuedAt) / 1000;

  const aMedian = median(a.map((r) => r.deliveriesPerSecond));
  const bMedian = median(b.map((r) => r.deliveriesPerSecond));
  const ratio = bMedian / aMedian;
  const row = (name: string, value: string) => console.log(`${name.padEnd(62)} ${value}`);
  const phase = (r: PhaseResult) =>
    `${r.deliveriesPerSecond.toFixed(0)}  (${r.delivered}/${N} delivered, ${r.duplicates} duplicates, ${r.seconds.toFixed(2)} s; ` +
    `accepted ${r.acceptedPerSecond.toFixed(0)}/s)`;
  console.log('');
  a.forEach((r, i) => row(`A${i + 1} healthy target alone: deliveries/s end to end`, phase(r)));
  b.forEach((r, i) => row(`B${i + 1} with ${DEAD} queued for the dead target: deliveries/s`, phase(r)));
  row('A healthy target alone, median deliveries/s', aMedian.toFixed(0));
  row('B with the dead target holding its slots, median deliveries/s', bMedian.toFixed(0));
  row('   dead-target attempts open at start of B / min / max during B', `${openAtStart} / ${openMin} / ${openMax}`);
  row('   attempts in flight in the service at start of B (/metrics)', String(inFlightAtStart));
  row('   dead-target requests received so far / still open at the end', `${deadStats.hangTotal} / ${deadStats.hangOpen} (${sinceQueued.toFixed(1)} s after queueing)`);
  row('B / A (medians)', `${(ratio * 100).toFixed(1)} %  (bar ≥ ${BAR * 100} %: ${ratio >= BAR ? 'met' : 'NOT met'})`);

  // Tear down: the dead target goes first, so its open attempts end (connection closed) before
  // the service is asked to stop, instead of running into the shutdown grace.
  dead.stop();
  for (let i = 0; i < 50; i++) {
    const m = await service.metrics().catch(() => null);
    if (m === null || (m.get('harepost_attempts_in_flight') ?? 0) === 0) break;
    await sleep(100);
  }
  await service.stop(45_000);
  healthy.stop();
  await database.drop();
  if (args.check && ratio < BAR) throw new Error(`B/A ${(ratio * 100).toFixed(1)} % is below ${BAR * 100} %`);
}

runMain(main);
