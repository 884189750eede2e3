/**
 * `npm run bench:overload`: callers outrun the service (issue 21, item 5).
 *
 * --connections keep-alive connections (default 1,000), each sending `POST /v1/send` after
 * `POST /v1/send` for --seconds (default 20), against `harepost serve` on the embedded store
 * (--store postgres for PostgreSQL) with a receiver process taking the deliveries. Prints the 202
 * rate, the 202s' p50/p99/max latency, the 503s (by code) and their latency, any other status, and
 * the calls that waited past 10 s. `--no-shedding` runs the same load with every load-shedding
 * bound off (HAREPOST_MAX_EVENT_LOOP_DELAY_MS, _MAX_COMMIT_QUEUE, _MAX_POOL_WAITING = 0), to compare.
 * A caller that gets a 503 waits its Retry-After before sending again, as it is told to;
 * `--ignore-retry-after` sends again at once (a caller that hammers: every shed call comes back
 * on the next turn of the event loop).
 *
 * Everything is on loopback. Runs `harepost` from dist/ when built; BENCH_FROM_SOURCE=1 runs the
 * TypeScript source.
 */
import { cpus } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { benchDatabase, onCleanup, percentile, runMain, startReceiverProcess, startService, type StoreKind,
  startBenchPlace,
} from './harness.js';

const { values: args } = parseArgs({
  options: {
    connections: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '20' },
    store: { type: 'string', default: 'sqlite' },
    'no-shedding': { type: 'boolean', default: false },
    'ignore-retry-after': { type: 'boolean', default: false },
  },
});
const CONNECTIONS = Number(args.connections);
const SECONDS = Number(args.seconds);
const HOST = 'overload.example.test';
const PATIENCE_MS = 10_000;

interface Tally {
  latencies: Map<number, number[]>;
  codes503: Map<string, number>;
  errors: number;
  pastPatience: number;
  /** Of those, the first call on a connection (its latency includes making the connection). */
  pastPatienceFirst: number;
  /** Latencies of each connection's first call. */
  first: number[];
}

runMain(async () => {
  const { dir, pki, dns } = await startBenchPlace('overload', HOST);
  const receiver = await startReceiverProcess(pki);
  onCleanup(() => receiver.stop());

  const database = benchDatabase(args.store as StoreKind, dir, 'hp_overload');
  const env: Record<string, string> = args['no-shedding']
    ? { HAREPOST_MAX_EVENT_LOOP_DELAY_MS: '0', HAREPOST_MAX_COMMIT_QUEUE: '0', HAREPOST_MAX_POOL_WAITING: '0' }
    : {};
  const service = await startService({ databaseUrl: database.url, dns, caCertPath: pki.caCertPath, connections: 4, env });
  onCleanup(() => service.stop());
  await service.verifyDomain(HOST);

  const load = new Pool(`http://127.0.0.1:${service.port}`, {
    connections: CONNECTIONS,
    pipelining: 1,
    headersTimeout: 60_000,
    bodyTimeout: 60_000,
  });
  const headers = { authorization: `Bearer ${service.key}`, 'content-type': 'application/json' };
  const body = JSON.stringify({ target: `https://${HOST}:${receiver.port}/hook`, body: { event: 'order.paid', amount_cents: 4500 } });
  const tally: Tally = { latencies: new Map(), codes503: new Map(), errors: 0, pastPatience: 0, pastPatienceFirst: 0, first: [] };

  console.log(
    `\nHarepost overload — ${CONNECTIONS} keep-alive connections × ${SECONDS} s on POST /v1/send, ${args.store}, ` +
      `shedding ${args['no-shedding'] ? 'OFF' : 'on (defaults)'}, 503s ${args['ignore-retry-after'] ? 'retried at once' : 'retried after Retry-After'}, ` +
      `${cpus().length} CPUs, Node ${process.version}`,
  );
  const end = performance.now() + SECONDS * 1000;
  const started = performance.now();
  // this process's own lateness: a latency measured here includes it
  const ownDelay = monitorEventLoopDelay({ resolution: 10 });
  ownDelay.enable();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      let first = true;
      while (performance.now() < end) {
        const t0 = performance.now();
        const wasFirst = first;
        first = false;
        try {
          const res = await load.request({ method: 'POST', path: '/v1/send', headers, body });
          const text = await res.body.text();
          const ms = performance.now() - t0;
          let list = tally.latencies.get(res.statusCode);
          if (!list) tally.latencies.set(res.statusCode, (list = []));
          list.push(ms);
          if (ms > PATIENCE_MS) tally.pastPatience++;
          if (ms > PATIENCE_MS && wasFirst) tally.pastPatienceFirst++;
          if (wasFirst) tally.first.push(ms);
          if (res.statusCode === 503) {
            const code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? '?';
            tally.codes503.set(code, (tally.codes503.get(code) ?? 0) + 1);
            const wait = Number(res.headers['retry-after'] ?? 1) * 1000;
            if (!args['ignore-retry-after']) await new Promise((r) => setTimeout(r, Math.min(wait, end - performance.now())));
          }
        } catch {
          tally.errors++;
          if (performance.now() - t0 > PATIENCE_MS) tally.pastPatience++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  ownDelay.disable();
  await load.close();

  const line = (status: number) => {
    const l = (tally.latencies.get(status) ?? []).sort((a, b) => a - b);
    if (l.length === 0) return `${status}: none`;
    return (
      `${status}: ${l.length} (${(l.length / elapsed).toFixed(0)}/s), latency p50 ${percentile(l, 50).toFixed(0)} ms, ` +
      `p99 ${percentile(l, 99).toFixed(0)} ms, max ${l[l.length - 1]!.toFixed(0)} ms`
    );
  };
  console.log(line(202));
  console.log(`${line(503)}${tally.codes503.size ? ` — codes ${JSON.stringify(Object.fromEntries(tally.codes503))}` : ''}`);
  const others = [...tally.latencies].filter(([s]) => s !== 202 && s !== 503).map(([s, l]) => `${s}×${l.length}`);
  console.log(`other statuses: ${others.length ? others.join(', ') : 'none'}; connection errors: ${tally.errors}`);
  const first = tally.first.sort((a, b) => a - b);
  console.log(
    `calls that waited past ${PATIENCE_MS / 1000} s: ${tally.pastPatience} (${tally.pastPatienceFirst} of them a connection's first call); ` +
      `first calls p50 ${percentile(first, 50).toFixed(0)} ms, p99 ${percentile(first, 99).toFixed(0)} ms, max ${(first[first.length - 1] ?? NaN).toFixed(0)} ms`,
  );
  const metrics = await service.metrics();
  // the service's own view of its 202s (from reading the request to its answer): what the process
  // queued, apart from what waited in the kernel or in this load generator's event loop
  const buckets = [...metrics]
    .filter(([k]) => k.startsWith('harepost_http_request_duration_seconds_bucket') && k.includes('route="/v1/send"') && k.includes('status_code="202"'))
    .map(([k, v]) => ({ le: Number(/le="([^"]+)"/.exec(k)?.[1]), n: v }))
    .sort((a, b) => a.le - b.le);
  const total = buckets[buckets.length - 1]?.n ?? 0;
  const within = (p: number) => buckets.find((b) => b.n >= total * p)?.le;
  if (total > 0) {
    const half = buckets.find((b) => b.le === 0.5)?.n ?? 0;
    console.log(`service's view of its 202s: p50 ≤ ${within(0.5)! * 1000} ms, p99 ≤ ${within(0.99)! * 1000} ms (histogram buckets); ${((half / total) * 100).toFixed(1)} % within 500 ms`);
  }
  console.log(`this load generator's own event-loop delay: p50 ${(ownDelay.percentile(50) / 1e6).toFixed(0)} ms, p99 ${(ownDelay.percentile(99) / 1e6).toFixed(0)} ms, max ${(ownDelay.max / 1e6).toFixed(0)} ms`);
  const shed = [...metrics].filter(([k]) => k.startsWith('harepost_requests_shed_total'));
  console.log(`shed by reason (service metrics): ${shed.length ? shed.map(([k, v]) => `${/reason="([^"]+)"/.exec(k)?.[1]}=${v}`).join(', ') : 'none'}`);
});
