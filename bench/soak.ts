/**
 * `npm run soak -- --minutes N`: a steady mixed load against one `harepost serve` child for N
 * minutes (issue 7, item 6). Not part of `npm test`.
 *
 * Starts a loopback DNS server, one receiver process (HTTPS, per-run CA) and `harepost serve`
 * (built dist/) as a child, then an open-loop scheduler issues --rate API calls per second, in a
 * fixed cycle of ten:
 *   7 × POST /v1/send to a healthy target (hooks.example.test, answers 200 at once);
 *   1 × POST /v1/events fanned out to --fanout subscribed destinations (events.example.test, 200);
 *   1 × POST /v1/send to a failing target (failing.example.test answers 500): max_attempts 3,
 *       fixed 500 ms backoff — the breaker opens on this origin within seconds, so from then on
 *       its sends are held (parked) and only its probes reach it: the pending count grows by
 *       about --rate/10 a second, which is the point (a growing held backlog must not slow the rest);
 *   1 × POST /v1/send to a slow target (slow.example.test answers 200 after 2–3 s).
 * Each origin is its own host name on the one receiver.
 *
 * The first --warmup seconds (15) of that load are not reported (JIT, connection pools, caches).
 * Then every minute (--interval seconds) it prints: deliveries completed in that minute (200s answered
 * by the receiver: healthy sends, event deliveries and slow ones) and per second; p50 and p99 from
 * the 202 to arrival at the receiver for the healthy sends that arrived in that minute (both sides
 * stamp with sub-millisecond wall clocks); the service's RSS (VmRSS from /proc/<pid>/status), its
 * event-loop delay p99 and max over the minute (prom-client's sampler at 10-ms resolution, so an
 * idle loop reads ≈10 ms) and its time in garbage collection; failed attempts and dead-lettered
 * deliveries so far, and the deliveries pending (queued or retrying) at that moment (/metrics).
 * At the end: first vs last minute RSS and p99 and whether each stayed within ±25 %, and the
 * least-squares trend of each over the rows (change across the run, against the rows' mean), after
 * waiting (at most 30 s) for what is still on its way (healthy and slow deliveries, the failing
 * sends' last attempts, until their counts stop moving) so the counts close; then it stops
 * everything and exits 0. HAREPOST_* variables in the environment reach the service (e.g.
 * HAREPOST_MAX_IN_FLIGHT_PER_ORIGIN), except the ones the harness sets.
 *
 * Options: --minutes 10 --rate 300 --warmup 15 --fanout 3 --store sqlite|postgres
 *          --connections 32 --interval 60 (seconds per row; for quick checks) --http
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createTestPki } from '../test/support/ca.js';
import { startDnsServer } from '../test/support/dns-server.js';
import { type ReceiverStats, type StoreKind, benchDatabase, onCleanup, percentile, runMain, sleep, wallNow, startReceiverProcess, startService } from './harness.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '300' },
    warmup: { type: 'string', default: '15' },
    fanout: { type: 'string', default: '3' },
    store: { type: 'string', default: 'sqlite' },
    connections: { type: 'string', default: '32' },
    interval: { type: 'string', default: '60' },
    http: { type: 'boolean', default: false },
  },
});
const MINUTES = Number(args.minutes);
const RATE = Number(args.rate);
const WARMUP_MS = Number(args.warmup) * 1000;
const FANOUT = Number(args.fanout);
const STORE = args.store as StoreKind;
const CONNECTIONS = Number(args.connections);
const INTERVAL_MS = Number(args.interval) * 1000;
const TLS = !args.http;
const BAND = 0.25;
/** Calls not yet answered beyond this are skipped (and counted), so an overload stays bounded. */
const MAX_OUTSTANDING = Math.max(1000, RATE * 10);

if (STORE !== 'sqlite' && STORE !== 'postgres') throw new Error('--store must be sqlite or postgres');
if (!(MINUTES > 0 && MINUTES <= 24 * 60)) throw new Error('--minutes must be above 0 and at most 1440');
if (!(RATE > 0 && RATE <= 10_000)) throw new Error('--rate must be above 0 and at most 10000');
if (!(Number.isInteger(FANOUT) && FANOUT >= 1 && FANOUT <= 20)) throw new Error('--fanout must be 1 to 20');
if (!(WARMUP_MS >= 0 && WARMUP_MS <= 600_000)) throw new Error('--warmup must be 0 to 600 (seconds)');
if (!(INTERVAL_MS >= 1000)) throw new Error('--interval must be at least 1 (second)');

const HOSTS = {
  healthy: 'hooks.example.test',
  events: 'events.example.test',
  failing: 'failing.example.test',
  slow: 'slow.example.test',
} as const;
type Kind = 'healthy' | 'event' | 'failing' | 'slow';
const CYCLE: readonly Kind[] = ['healthy', 'healthy', 'healthy', 'event', 'healthy', 'failing', 'healthy', 'healthy', 'slow', 'healthy'];

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const pct = (from: number, to: number) => (from === 0 ? (to === 0 ? 0 : Infinity) : (to - from) / from);
/** Least-squares slope of ys against 0..n-1, times (n-1): the change across the run the trend line says. */
function trendAcross(ys: number[]): number {
  const n = ys.length;
  if (n < 2) return 0;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, y) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  ys.forEach((y, x) => {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  });
  return (num / den) * (n - 1);
}
const mean = (ys: number[]) => ys.reduce((a, y) => a + y, 0) / ys.length;
const signed = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;

interface Row {
  minute: number;
  completed: number;
  perSecond: number;
  p50: number;
  p99: number;
  samples: number;
  /** The service's event-loop delay over the row (prom-client's sampler, reset by each scrape). */
  loopP99: number;
  loopMax: number;
  /** Time the service spent in garbage collection during the row. */
  gcMs: number;
  rssMiB: number;
  failedAttempts: number;
  deadLettered: number;
  pending: number;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'harepost-soak-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const pki = await createTestPki({ names: Object.values(HOSTS), dir: join(dir, 'pki') });
  const dns = await startDnsServer();
  onCleanup(() => dns.close());
  for (const host of Object.values(HOSTS)) dns.setA(host, ['127.0.0.1']);

  const receiver = await startReceiverProcess(TLS ? pki : undefined);
  const base = (host: string) => `${TLS ? 'https' : 'http'}://${host}:${receiver.port}`;

  const database = benchDatabase(STORE, dir, 'hp_soak');
  const service = await startService({
    databaseUrl: database.url,
    dns,
    caCertPath: TLS ? pki.caCertPath : null,
    connections: CONNECTIONS,
    env: { HAREPOST_METRICS_CACHE_MS: '1000', HAREPOST_METRICS_TOKEN: '' },
  });
  for (const host of Object.values(HOSTS)) await service.verifyDomain(host);
  for (let d = 0; d < FANOUT; d++) {
    const dest = await service.call('POST', '/v1/destinations', { url: `${base(HOSTS.events)}/dest/${d}`, events: ['order.*'] });
    if (dest.status !== 201) throw new Error(`destination ${dest.status} ${JSON.stringify(dest.body)}`);
  }

  const storeName = STORE === 'postgres' ? 'PostgreSQL (same machine)' : 'embedded SQLite';
  console.log(`\nHarepost soak — ${TLS ? 'HTTPS' : 'HTTP'} receiver, ${cpus().length} CPUs, Node ${process.version}, ${storeName} store`);
  console.log(
    `${MINUTES} min at ${RATE} calls/s after ${WARMUP_MS / 1000} s of warm-up, open loop; each 10: 7 sends → healthy, ` +
      `1 event → ${FANOUT} destinations, 1 send → 500 (max_attempts 3, fixed 500 ms), 1 send → slow (2–3 s)`,
  );
  console.log(`service pid ${service.pid}, RSS before the load ${service.rssMiB().toFixed(1)} MiB`);
  const header = () => console.log(
    `\n${'min'.padStart(5)} ${'deliveries'.padStart(11)} ${'/s'.padStart(6)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'(n)'.padStart(8)} ` +
      `${'RSS MiB'.padStart(8)} ${'loop p99'.padStart(9)} ${'loop max'.padStart(9)} ${'GC ms'.padStart(6)} ` +
      `${'failed'.padStart(9)} ${'dead-lettered'.padStart(14)} ${'pending'.padStart(8)}`,
  );

  // Accepted healthy sends waiting for their arrival, and arrivals that beat their 202 back.
  const acceptedAt = new Map<string, number>();
  const arrivedEarly = new Map<string, number>();
  let latencies: number[] = [];
  const counts = { issued: 0, accepted: 0, errors: 0, skipped: 0, outstanding: 0 };
  const sent: Record<Kind, number> = { healthy: 0, event: 0, failing: 0, slow: 0 };
  let firstError: string | null = null;

  const note = (id: string, arrivedAt: number) => {
    const at = acceptedAt.get(id);
    if (at !== undefined) {
      acceptedAt.delete(id);
      latencies.push(arrivedAt - at);
    } else {
      arrivedEarly.set(id, arrivedAt);
    }
  };

  const issue = (i: number, kind: Kind) => {
    counts.issued++;
    counts.outstanding++;
    sent[kind]++;
    const op =
      kind === 'event'
        ? service.call('POST', '/v1/events', { type: 'order.created', body: { order_id: `ord_${i}`, amount_cents: 4500 } })
        : service.call('POST', '/v1/send', {
            target:
              kind === 'healthy'
                ? `${base(HOSTS.healthy)}/hook`
                : kind === 'failing'
                  ? `${base(HOSTS.failing)}/fail`
                  : `${base(HOSTS.slow)}/slow`,
            body: { event: 'order.paid', id: `ord_${i}`, amount_cents: 4500 },
            ...(kind === 'failing'
              ? { delivery: { max_attempts: 3, backoff: 'fixed', base_delay_ms: 500, jitter: 'none' } }
              : {}),
          });
    op.then(
      (r) => {
        const now = wallNow();
        if (r.status !== 202) {
          counts.errors++;
          firstError ??= `${kind}: ${r.status} ${JSON.stringify(r.body)}`;
          return;
        }
        counts.accepted++;
        if (kind === 'healthy') {
          const id = r.body.queue_id as string;
          const early = arrivedEarly.get(id);
          if (early !== undefined) {
            arrivedEarly.delete(id);
            latencies.push(early - now); // delivered before the 202 was back: ≤ 0
          } else {
            acceptedAt.set(id, now);
          }
        }
      },
      (err: unknown) => {
        counts.errors++;
        firstError ??= `${kind}: ${(err as Error).message}`;
      },
    ).finally(() => counts.outstanding--);
  };

  // Drains the receiver's arrivals about once a second, so neither side keeps them.
  let totals: ReceiverStats = await receiver.stats();
  const drainOnce = async () => {
    const d = await receiver.drain();
    for (const [id, t] of d.drain) note(id, t);
    totals = d.totals;
    // arrivals nobody will claim (events, duplicates) are forgotten after a minute
    const stale = Date.now() - 60_000;
    for (const [id, t] of arrivedEarly) if (t < stale) arrivedEarly.delete(id);
  };

  const metricsNow = async () => {
    const m = await service.metrics();
    let gcSeconds = 0;
    for (const [name, value] of m) if (name.startsWith('harepost_nodejs_gc_duration_seconds_sum')) gcSeconds += value;
    return {
      gcSeconds,
      loopP99: (m.get('harepost_nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000,
      loopMax: (m.get('harepost_nodejs_eventloop_lag_max_seconds') ?? NaN) * 1000,
      failed: m.get('harepost_attempts_total{outcome="failed"}') ?? NaN,
      dead: m.get('harepost_deliveries{status="dead_letter"}') ?? NaN,
      pending: (m.get('harepost_deliveries{status="queued"}') ?? NaN) + (m.get('harepost_deliveries{status="retrying"}') ?? NaN),
    };
  };

  const rows: Row[] = [];
  const loadStart = performance.now();
  const startWall = Date.now();
  const start = loadStart + WARMUP_MS;
  const endAt = start + MINUTES * 60_000;
  let completedBefore = totals.ok + totals.slow;
  let lastRowAt = start;
  let gcBefore = 0;

  const takeRow = async (now: number) => {
    await drainOnce();
    const sorted = latencies.sort((x, y) => x - y);
    latencies = [];
    const completed = totals.ok + totals.slow - completedBefore;
    completedBefore = totals.ok + totals.slow;
    const { failed, dead, pending, gcSeconds, loopP99, loopMax } = await metricsNow();
    const row: Row = {
      minute: (now - start) / 60_000,
      completed,
      perSecond: completed / ((now - lastRowAt) / 1000),
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      samples: sorted.length,
      loopP99,
      loopMax,
      gcMs: (gcSeconds - gcBefore) * 1000,
      rssMiB: service.rssMiB(),
      failedAttempts: failed,
      deadLettered: dead,
      pending,
    };
    lastRowAt = now;
    gcBefore = gcSeconds;
    rows.push(row);
    console.log(
      `${(Math.abs(row.minute - Math.round(row.minute)) < 0.01 ? String(Math.round(row.minute)) : row.minute.toFixed(2)).padStart(5)} ${fmt(row.completed).padStart(11)} ${row.perSecond.toFixed(0).padStart(6)} ` +
        `${row.p50.toFixed(2).padStart(7)} ${row.p99.toFixed(2).padStart(7)} ${`(${row.samples})`.padStart(8)} ${row.rssMiB.toFixed(1).padStart(8)} ` +
        `${row.loopP99.toFixed(1).padStart(9)} ${row.loopMax.toFixed(1).padStart(9)} ${row.gcMs.toFixed(0).padStart(6)} ` +
        `${fmt(row.failedAttempts).padStart(9)} ${fmt(row.deadLettered).padStart(14)} ${fmt(row.pending).padStart(8)}`,
    );
  };

  // Reporter: drains every second; after the warm-up, prints a row at each interval boundary.
  let nextRowAt = start + INTERVAL_MS;
  const reporter = (async () => {
    while (performance.now() < start) {
      await drainOnce();
      await sleep(Math.max(1, Math.min(1000, start - performance.now())));
    }
    await drainOnce();
    latencies = [];
    completedBefore = totals.ok + totals.slow;
    gcBefore = (await metricsNow()).gcSeconds; // also restarts the service's event-loop sampler
    lastRowAt = performance.now();
    if (WARMUP_MS > 0) console.log(`warm-up done (${WARMUP_MS / 1000} s): RSS ${service.rssMiB().toFixed(1)} MiB`);
    header();
    for (;;) {
      const now = performance.now();
      if (now >= nextRowAt || now >= endAt) {
        if (now - lastRowAt >= 1000) await takeRow(now);
        if (now >= endAt) break;
        nextRowAt += INTERVAL_MS;
      } else {
        await drainOnce();
      }
      await sleep(Math.max(1, Math.min(1000, nextRowAt - performance.now(), endAt - performance.now())));
    }
  })();

  // Open-loop scheduler: call i is due at start + i/RATE, whatever happened to the calls before it.
  for (let i = 0; ; i++) {
    const due = loadStart + (i * 1000) / RATE;
    if (due >= endAt) break;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    else if (i % 64 === 0) await yieldToLoop();
    if (counts.outstanding >= MAX_OUTSTANDING) {
      counts.skipped++;
      continue;
    }
    issue(i, CYCLE[i % CYCLE.length]!);
  }
  await reporter;

  // Let what is on its way land (at most 30 s): healthy and slow deliveries, and the failing
  // sends' last attempts — until every one is dead-lettered, or the counts stop moving for 3 s
  // (deliveries held back from a failing origin wait for its probes, not for this script).
  const settleStart = Date.now();
  let final = await metricsNow();
  let signature = '';
  let movedAt = Date.now();
  for (;;) {
    await drainOnce();
    final = await metricsNow();
    const now = `${final.failed}/${final.dead}/${final.pending}`;
    if (now !== signature) {
      signature = now;
      movedAt = Date.now();
    }
    const arrived = counts.outstanding === 0 && acceptedAt.size === 0 && totals.slow >= sent.slow;
    const failingDone = final.dead >= sent.failing || Date.now() - movedAt >= 3000;
    if ((arrived && failingDone) || Date.now() - settleStart > 30_000) break;
    await sleep(250);
  }
  const settleSeconds = (Date.now() - settleStart) / 1000;
  const lateLatencies = latencies.length;

  const first = rows[0]!;
  const last = rows[rows.length - 1]!;
  const rssChange = pct(first.rssMiB, last.rssMiB);
  const p99Change = pct(first.p99, last.p99);
  const maxRss = Math.max(...rows.map((r) => r.rssMiB));
  const p99s = rows.map((r) => r.p99);
  const row = (name: string, value: string) => console.log(`${name.padEnd(52)} ${value}`);
  console.log('\nsummary');
  row('calls issued / 202 / errors / skipped', `${fmt(counts.issued)} / ${fmt(counts.accepted)} / ${fmt(counts.errors)} / ${fmt(counts.skipped)}`);
  row('  by kind: healthy / event / failing / slow', `${fmt(sent.healthy)} / ${fmt(sent.event)} / ${fmt(sent.failing)} / ${fmt(sent.slow)}`);
  if (firstError !== null) row('  first error', firstError);
  row('receiver: 200 at once / slow 200 / 500 answered', `${fmt(totals.ok)} / ${fmt(totals.slow)} / ${fmt(totals.failed)}`);
  row('failed attempts / dead-lettered / pending, at the end', `${fmt(final.failed)} / ${fmt(final.dead)} / ${fmt(final.pending)} (${fmt(sent.failing)} failing sends)`);
  row('healthy sends accepted, not arrived at the end', `${fmt(acceptedAt.size)} (${lateLatencies} arrived after the last row)`);
  row('RSS MiB first → last minute (max)', `${first.rssMiB.toFixed(1)} → ${last.rssMiB.toFixed(1)} (${maxRss.toFixed(1)}): ${signed(rssChange)}, ${Math.abs(rssChange) <= BAND ? 'within' : 'OUTSIDE'} ±${BAND * 100} %`);
  row('p99 ms first → last minute (min–max)', `${first.p99.toFixed(2)} → ${last.p99.toFixed(2)} (${Math.min(...p99s).toFixed(2)}–${Math.max(...p99s).toFixed(2)}): ${signed(p99Change)}, ${Math.abs(p99Change) <= BAND ? 'within' : 'OUTSIDE'} ±${BAND * 100} %`);
  const rssTrend = trendAcross(rows.map((r) => r.rssMiB));
  const p99Trend = trendAcross(p99s);
  const p99Mean = mean(p99s);
  row('RSS trend across the run (least squares)', `${rssTrend >= 0 ? '+' : ''}${rssTrend.toFixed(1)} MiB on a mean of ${mean(rows.map((r) => r.rssMiB)).toFixed(1)}: ${signed(rssTrend / mean(rows.map((r) => r.rssMiB)))}`);
  row('p99 trend across the run (least squares)', `${p99Trend >= 0 ? '+' : ''}${p99Trend.toFixed(2)} ms on a mean of ${p99Mean.toFixed(2)}: ${signed(p99Trend / p99Mean)}, ${Math.abs(p99Trend / p99Mean) <= BAND ? 'within' : 'OUTSIDE'} ±${BAND * 100} %`);
  row('ran', `${((Date.now() - startWall) / 60_000).toFixed(2)} min: ${WARMUP_MS / 1000} s warm-up, ${MINUTES} min measured, ${settleSeconds.toFixed(1)} s settling`);

  await service.stop(15_000);
  receiver.stop();
  await database.drop();
}

runMain(main);
