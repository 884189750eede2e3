/**
 * `npm run bench:tenants`: one account's flood must not delay another's fresh sends (issue 15,
 * item 6).
 *
 * Two accounts on one `harepost serve` (a child process), two receiver processes:
 *   - account B sends to b.example.test, which answers 200 at once;
 *   - account A's deliveries go to flood.example.test, which answers 200 after 200 ms.
 * Phases, in one run:
 *   1. B alone: --rate sends a second (default 50) for --seconds (default 20); B's send→arrival
 *      latency (from just before the POST to its arrival at the receiver, sub-ms wall clocks);
 *   2. A's backlog: --backlog deliveries (default 100,000) written straight to the store, all due
 *      now (a flood faster than any API client could make); then B again, the same way, while the
 *      dispatcher works through A's backlog (at most HAREPOST_MAX_IN_FLIGHT_PER_ORIGIN in flight).
 * Prints B's p50/p99/max and count in both phases, and how far A's backlog got meanwhile.
 *
 * Options: --store sqlite|postgres --rate 50 --seconds 20 --backlog 100000 --http
 * (BENCH_FROM_SOURCE=1 runs the service from src/ through tsx instead of dist/.)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_POLICY } from '../src/core/policy.js';
import { openStore } from '../src/store/open-store.js';
import type { NewDelivery } from '../src/store/store.js';
import { createTestPki } from '../test/support/ca.js';
import { startDnsServer } from '../test/support/dns-server.js';
import {
  type ReceiverProcess,
  type Service,
  type StoreKind,
  benchDatabase,
  cliArgs,
  onCleanup,
  percentile,
  runMain,
  sleep,
  startReceiverProcess,
  startService,
  wallNow,
} from './harness.js';

const { values: args } = parseArgs({
  options: {
    store: { type: 'string', default: 'sqlite' },
    rate: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '20' },
    backlog: { type: 'string', default: '100000' },
    http: { type: 'boolean', default: false },
  },
});
const STORE = args.store as StoreKind;
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const BACKLOG = Number(args.backlog);
const TLS = !args.http;
const B_HOST = 'b.example.test';
const A_HOST = 'flood.example.test';

if (STORE !== 'sqlite' && STORE !== 'postgres') throw new Error('--store must be sqlite or postgres');
for (const [name, v] of Object.entries({ rate: RATE, seconds: SECONDS, backlog: BACKLOG })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a whole number`);
}

interface Account {
  id: string;
  key: string;
}

/** A second (third…) account, made with `harepost accounts create` against the service's store. */
function createAccount(service: Service, name: string): Account {
  const made = spawnSync(process.execPath, [...cliArgs(), 'accounts', 'create', '--name', name, '--json'], { env: service.env, encoding: 'utf8' });
  if (made.status !== 0) throw new Error(made.stderr);
  const out = JSON.parse(made.stdout) as { account_id: string; live_key: string };
  return { id: out.account_id, key: out.live_key };
}

async function callAs(service: Service, key: string, method: 'GET' | 'POST', path: string, body?: unknown) {
  const res = await service.api.request({
    method,
    path,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.statusCode, body: (await res.body.json()) as any };
}

interface Latencies {
  sent: number;
  arrived: number;
  p50: number;
  p99: number;
  max: number;
}

/** B sends at RATE for SECONDS; returns its send→arrival latencies once every send has arrived. */
async function paced(service: Service, b: Account, receiver: ReceiverProcess, target: string, tag: string): Promise<Latencies> {
  await receiver.reset();
  const sentAt = new Map<string, number>();
  const total = RATE * SECONDS;
  const interval = 1000 / RATE;
  const t0 = wallNow();
  const inFlight: Array<Promise<void>> = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + i * interval;
    const wait = due - wallNow();
    if (wait > 0) await sleep(wait);
    inFlight.push(
      (async () => {
        const start = wallNow();
        const r = await callAs(service, b.key, 'POST', '/v1/send', { target, body: { event: 'order.paid', id: `${tag}_${i}` } });
        if (r.status !== 202) throw new Error(`send ${r.status} ${JSON.stringify(r.body)}`);
        sentAt.set(r.body.queue_id as string, start);
      })(),
    );
  }
  await Promise.all(inFlight);
  const deadline = Date.now() + 60_000;
  while ((await receiver.count()).arrivals < total && Date.now() < deadline) await sleep(50);
  const lat: number[] = [];
  for (const [id, at] of await receiver.arrivals()) {
    const start = sentAt.get(id);
    if (start !== undefined) lat.push(at - start);
  }
  lat.sort((x, y) => x - y);
  return { sent: total, arrived: lat.length, p50: percentile(lat, 50), p99: percentile(lat, 99), max: lat[lat.length - 1] ?? NaN };
}

/** A's backlog, written straight to the store in batches: every delivery due now. */
async function flood(databaseUrl: string, a: Account, target: string): Promise<number> {
  const store = openStore(databaseUrl);
  await store.migrate();
  const t0 = Date.now();
  const policy = { ...DEFAULT_POLICY, timeout_ms: 10_000 };
  try {
    for (let i = 0; i < BACKLOG; i += 2000) {
      const now = Date.now();
      const batch: NewDelivery[] = Array.from({ length: Math.min(2000, BACKLOG - i) }, (_, j) => ({
        id: `hr_flood${String(i + j).padStart(9, '0')}${Math.random().toString(36).slice(2, 8)}`,
        account_id: a.id,
        mode: 'live',
        target: `${target}/${i + j}`,
        origin: new URL(target).origin,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: Buffer.from(`{"flood":${i + j}}`),
        policy,
        idempotency_key: null,
        metadata: null,
        sign: false,
        created_at: now,
      }));
      await store.enqueueDeliveries(a.id, 'live', batch);
    }
  } finally {
    await store.close();
  }
  return (Date.now() - t0) / 1000;
}

const fmt = (ms: number) => (Number.isFinite(ms) ? ms.toFixed(2) : '—');

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'harepost-tenants-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const pki = await createTestPki({ names: [B_HOST, A_HOST], dir: join(dir, 'pki') });
  const dns = await startDnsServer();
  onCleanup(() => dns.close());
  dns.setA(B_HOST, ['127.0.0.1']);
  dns.setA(A_HOST, ['127.0.0.1']);
  const bReceiver = await startReceiverProcess(TLS ? pki : undefined);
  const aReceiver = await startReceiverProcess(TLS ? pki : undefined);
  const scheme = TLS ? 'https' : 'http';
  const bTarget = `${scheme}://${B_HOST}:${bReceiver.port}/hook`;
  const aTarget = `${scheme}://${A_HOST}:${aReceiver.port}/wait`;

  const database = benchDatabase(STORE, dir, 'hp_tenants');
  const service = await startService({
    databaseUrl: database.url,
    dns,
    caCertPath: TLS ? pki.caCertPath : null,
    connections: 16,
    env: { HAREPOST_SHUTDOWN_GRACE_MS: '1000' },
  });
  const a = createAccount(service, 'A (flood)');
  const b = createAccount(service, 'B (fresh sends)');
  const added = await callAs(service, b.key, 'POST', '/v1/domains', { domain: B_HOST });
  dns.setTxt(added.body.record.name, [added.body.record.value]);
  const verified = await callAs(service, b.key, 'POST', '/v1/domains/verify', { domain: B_HOST });
  if (verified.body.status !== 'verified') throw new Error(`verify: ${JSON.stringify(verified.body)}`);

  const env = service.env;
  console.log(`\nHarepost tenants — ${STORE} store, ${TLS ? 'HTTPS' : 'HTTP'} receivers, ${cpus().length} CPUs, Node ${process.version}`);
  console.log(
    `caps: HAREPOST_MAX_IN_FLIGHT=${env.HAREPOST_MAX_IN_FLIGHT ?? 1024} per origin=${env.HAREPOST_MAX_IN_FLIGHT_PER_ORIGIN ?? 128} ` +
      `per account=${env.HAREPOST_MAX_IN_FLIGHT_PER_ACCOUNT ?? 256}; B: ${RATE} sends/s for ${SECONDS} s; A: ${BACKLOG} deliveries to a 200-ms target`,
  );

  // warm-up (JIT, connections, TLS sessions): not measured
  for (let i = 0; i < 100; i++) await callAs(service, b.key, 'POST', '/v1/send', { target: bTarget, body: { warmup: i } });
  while ((await bReceiver.count()).arrivals < 100) await sleep(50);

  const alone = await paced(service, b, bReceiver, bTarget, 'alone');

  const insertSeconds = await flood(database.url, a, aTarget);
  const waitedBefore = (await aReceiver.stats()).waited;
  const flooded = await paced(service, b, bReceiver, bTarget, 'flooded');
  const waitedDuring = (await aReceiver.stats()).waited - waitedBefore;

  console.log(`\nA's backlog written to the store in ${insertSeconds.toFixed(1)} s; during B's ${SECONDS} s, ${waitedDuring} of A's deliveries were answered (${(waitedDuring / SECONDS).toFixed(0)}/s)`);
  console.log(`\n| account B, send→arrival | sent | arrived | p50 ms | p99 ms | max ms |`);
  console.log(`|---|---|---|---|---|---|`);
  for (const [label, r] of [['alone', alone], [`while A's backlog of ${BACKLOG} drains`, flooded]] as const) {
    console.log(`| ${label} | ${r.sent} | ${r.arrived} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.max)} |`);
  }
  await service.stop(5000);
  bReceiver.stop();
  aReceiver.stop();
  await database.drop();
}

runMain(main);
