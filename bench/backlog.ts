/**
 * `npm run bench:backlog`: does a deep pending backlog slow the dispatch of fresh work (issue 17:
 * with 1,000,000 pending rows, held or scheduled later, dispatch ≥ 0.9× the empty table's and
 * accepted sends/s unchanged)?
 *
 * For each store, two phases, alternating over the rounds (empty, backlog, empty, backlog …), each
 * on a fresh database and a fresh `harepost serve` (from dist/, like `npm run bench`):
 *   1. empty: --n sends by --concurrency callers, measured as bench/run.ts measures them
 *      (harness.ts measureSendThroughput): sends accepted (202) per second, distinct deliveries
 *      per second end to end, CPU per delivery;
 *   2. backlog: --rows pending deliveries written straight into the store before the service
 *      starts (bench/backlog-rows.ts: half scheduled a day ahead, half held by a disabled
 *      destination; a quarter of each in the sends' own account), then the same measurement.
 * Prints both side by side with the ratios backlog ÷ empty, the rows counted before the service
 * starts and after it stops, and checks that every send was delivered exactly once and that the
 * backlog was left as written (still pending, never attempted). Exits 1 if a check fails.
 *
 * Options: --store sqlite|postgres|both (both) --rows 1000000 --n 20000 --concurrency 64
 * --rounds 1 --http (plain-HTTP receiver instead of HTTPS).
 * (BENCH_FROM_SOURCE=1 runs the service from src/ through tsx instead of dist/.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BACKLOG_ID_PREFIX, type BacklogWritten, type RowCounts, countRows, writeBacklog } from './backlog-rows.js';
import {
  type CpuSpent,
  type StoreKind,
  benchDatabase,
  measureReceiverCeiling,
  measureSendThroughput,
  runMain,
  startReceiverProcess,
  startService,
  startBenchPlace,
} from './harness.js';

const { values: args } = parseArgs({
  options: {
    store: { type: 'string', default: 'both' },
    rows: { type: 'string', default: '1000000' },
    n: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '1' },
    http: { type: 'boolean', default: false },
  },
});
const ROWS = Number(args.rows);
const N = Number(args.n);
const CONCURRENCY = Number(args.concurrency);
const ROUNDS = Number(args.rounds);
const TLS = !args.http;
for (const [name, v] of Object.entries({ rows: ROWS, n: N, concurrency: CONCURRENCY, rounds: ROUNDS })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a whole number ≥ 1`);
}
if (!['sqlite', 'postgres', 'both'].includes(args.store)) throw new Error('--store must be sqlite, postgres or both');
const STORES: readonly StoreKind[] = args.store === 'both' ? ['sqlite', 'postgres'] : [args.store as StoreKind];
const HOST = 'bench.example.test';

type Phase = 'empty' | 'backlog';

interface Result {
  store: StoreKind;
  phase: Phase;
  round: number;
  ceiling: number;
  backlog: BacklogWritten | null;
  before: RowCounts;
  after: RowCounts;
  /** From `harepost serve` spawned to /readyz answering 200, ms. */
  startMs: number;
  sendsPerSecond: number;
  deliveriesPerSecond: number;
  delivered: number;
  duplicates: number;
  cpu: CpuSpent;
  /** What a check found wrong (empty: all passed). */
  failures: string[];
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const storeTitle = (s: StoreKind) => (s === 'sqlite' ? 'embedded SQLite store' : 'PostgreSQL store (same machine)');

async function main() {
  const { dir, pki, dns } = await startBenchPlace('backlog', HOST);
  const receiver = await startReceiverProcess(TLS ? pki : undefined);
  const origin = `${TLS ? 'https' : 'http'}://${HOST}:${receiver.port}`;
  const sendBody = (i: number) => ({ target: `${origin}/hook`, body: { event: 'order.paid', id: `ord_${i}`, amount_cents: 4500 } });

  console.log(`\nHarepost backlog benchmark — ${TLS ? 'HTTPS' : 'HTTP'} receiver, ${cpus().length} CPUs, Node ${process.version}`);
  console.log(`rows=${int(ROWS)} n=${N} concurrency=${CONCURRENCY} rounds=${ROUNDS}; each round: empty, then backlog`);

  const results: Result[] = [];
  for (const store of STORES) {
    for (let round = 1; round <= ROUNDS; round++) {
      const ceiling = await measureReceiverCeiling({
        receiver,
        base: origin.replace(HOST, '127.0.0.1'),
        tls: TLS ? { ca: pki.caCertPem, servername: HOST } : null,
        payload: JSON.stringify(sendBody(0).body),
        n: N,
        concurrency: CONCURRENCY,
      });
      console.log(`${store} round ${round}: receiver ceiling (driver → receiver direct) ${int(ceiling)} req/s`);
      for (const phase of ['empty', 'backlog'] as const) {
        const r = await measurePhase(store, phase, round, ceiling);
        console.log(
          `  ${phase}: ${int(r.sendsPerSecond)} sends/s, ${int(r.deliveriesPerSecond)} deliveries/s` +
            (r.failures.length ? ` — CHECK FAILED: ${r.failures.join('; ')}` : ''),
        );
        results.push(r);
      }
    }
  }
  for (const store of STORES) printStore(results.filter((r) => r.store === store));

  receiver.stop();
  await dns.close();
  const failed = results.filter((r) => r.failures.length > 0);
  if (failed.length > 0) throw new Error(`${failed.length} phase(s) failed their checks`);

  async function measurePhase(store: StoreKind, phase: Phase, round: number, ceiling: number): Promise<Result> {
    const phaseDir = mkdtempSync(join(dir, `${store}-${phase}-`));
    const db = benchDatabase(store, phaseDir, 'hp_backlog');
    let backlog: BacklogWritten | null = null;
    let before: RowCounts | null = null;
    let spawnedAt = 0;
    const service = await startService({
      databaseUrl: db.url,
      dns,
      caCertPath: TLS ? pki.caCertPath : null,
      connections: CONCURRENCY,
      // the sends' account holds half the backlog plus the sends: the same setting in both phases
      env: { HAREPOST_MAX_PENDING_DELIVERIES: String(Math.max(1_000_000, ROWS + N)) },
      beforeServe: async (account, env) => {
        if (phase === 'backlog') {
          console.log(`  writing ${int(ROWS)} pending rows into the ${store} store:`);
          backlog = await writeBacklog(store, db, env, { rows: ROWS, accountId: account.id, origin }, (line) => console.log(line));
        }
        before = await countRows(store, db, backlog?.writtenAt ?? null);
        spawnedAt = performance.now();
      },
    });
    const startMs = performance.now() - spawnedAt;
    await service.verifyDomain(HOST);

    const accepted = new Set<string>();
    const throughput = await measureSendThroughput({
      call: async (method, path, body) => {
        const answer = await service.call(method, path, body);
        if (answer.status === 202) accepted.add(answer.body.queue_id as string);
        return answer;
      },
      receiver,
      sendBody,
      n: N,
      concurrency: CONCURRENCY,
    });
    await service.stop();
    const written = backlog as BacklogWritten | null;
    const after = await countRows(store, db, written?.writtenAt ?? null);
    await db.drop();
    rmSync(phaseDir, { recursive: true, force: true });

    const failures: string[] = [];
    const rows = written?.rows ?? 0;
    if (throughput.delivered !== N) failures.push(`${throughput.delivered} of ${N} sends delivered`);
    if (throughput.duplicates !== 0) failures.push(`${throughput.duplicates} duplicate arrivals`);
    const strangers = throughput.arrivals.filter(([id]) => !accepted.has(id));
    if (strangers.length > 0) {
      const ofBacklog = strangers.filter(([id]) => id.startsWith(BACKLOG_ID_PREFIX)).length;
      failures.push(`${strangers.length} arrivals not of a measured send (${ofBacklog} of the backlog)`);
    }
    if ((after.sendsByStatus.delivered ?? 0) !== N) failures.push(`store: ${JSON.stringify(after.sendsByStatus)} of the sends (want ${N} delivered)`);
    if (before!.pending !== rows) failures.push(`${before!.pending} pending before start (want ${rows})`);
    if (after.pending !== rows) failures.push(`${after.pending} pending after stop (want ${rows})`);
    if (after.backlogIntact !== rows) failures.push(`${after.backlogIntact} of ${rows} backlog rows as written`);
    if (after.backlogAttempts !== 0) failures.push(`${after.backlogAttempts} attempts of backlog deliveries`);
    return {
      store,
      phase,
      round,
      ceiling,
      backlog: written,
      before: before!,
      after,
      startMs,
      sendsPerSecond: throughput.sendsPerSecond,
      deliveriesPerSecond: throughput.deliveriesPerSecond,
      delivered: throughput.delivered,
      duplicates: throughput.duplicates,
      cpu: throughput.cpu,
      failures,
    };
  }
}

/** One store's phases as columns (in the order they ran), the ratios per round, and the verdict. */
function printStore(results: Result[]): void {
  const NA = '—';
  const store = results[0]!.store;
  const column = (r: Result) => (ROUNDS > 1 ? `${r.phase} #${r.round}` : r.phase);
  const emptyOf = (r: Result) => results.find((e) => e.phase === 'empty' && e.round === r.round)!;
  const ratio = (r: Result, f: (x: Result) => number) => (r.phase === 'backlog' ? (f(r) / f(emptyOf(r))).toFixed(2) : NA);
  const vsCeiling = (n: number, r: Result) => `${int(n)} (${(n / r.ceiling).toFixed(2)})`;
  const sendsOf = (c: RowCounts) => Object.entries(c.sendsByStatus).map(([s, n]) => `${n} ${s}`).join(', ') || '0';
  const rows: Array<[string, (r: Result) => string]> = [
    ['receiver ceiling (driver → receiver direct), req/s', (r) => int(r.ceiling)],
    ['backlog written straight to the store, s (+ settle, s)', (r) => (r.backlog ? `${r.backlog.writeSeconds.toFixed(1)} (+${r.backlog.settleSeconds.toFixed(1)})` : NA)],
    ['rows before the service starts: total / pending', (r) => `${int(r.before.total)} / ${int(r.before.pending)}`],
    ['service spawned → /readyz 200, ms', (r) => int(r.startMs)],
    ['sends accepted (202), per second (÷ ceiling)', (r) => vsCeiling(r.sendsPerSecond, r)],
    ['deliveries completed end to end, per second (÷ ceiling)', (r) => vsCeiling(r.deliveriesPerSecond, r)],
    ['  CPU per delivery (service + its database)', (r) => `${(r.cpu.systemMs / Math.max(1, r.delivered)).toFixed(3)} ms`],
    ['  delivered / sent (duplicates)', (r) => `${r.delivered} / ${N} (${r.duplicates})`],
    ['backlog ÷ empty (same round): sends/s', (r) => ratio(r, (x) => x.sendsPerSecond)],
    ['backlog ÷ empty (same round): deliveries/s', (r) => ratio(r, (x) => x.deliveriesPerSecond)],
    ['rows after the service stopped: total / pending', (r) => `${int(r.after.total)} / ${int(r.after.pending)}`],
    ['  backlog rows as written / attempts of them', (r) => (r.backlog ? `${int(r.after.backlogIntact)} / ${r.after.backlogAttempts}` : NA)],
    ['  the sends in the store', (r) => sendsOf(r.after)],
    ['checks', (r) => (r.failures.length === 0 ? 'ok' : 'FAILED')],
  ];
  const labelWidth = Math.max(...rows.map(([label]) => label.length));
  const cells = rows.map(([, f]) => results.map(f));
  const widths = results.map((r, c) => Math.max(column(r).length, ...cells.map((row) => row[c]!.length)));
  const line = (label: string, values: string[]) => console.log(`${label.padEnd(labelWidth)}  ${values.map((v, c) => v.padStart(widths[c]!)).join('  ')}`);

  console.log(`\nHarepost, ${storeTitle(store)}: ${int(ROWS)} pending rows in the backlog phases`);
  console.log('');
  line('', results.map(column));
  rows.forEach(([label], i) => line(label, cells[i]!));
  for (const r of results) for (const f of r.failures) console.log(`  ${column(r)}: ${f}`);

  const backlogs = results.filter((r) => r.phase === 'backlog');
  const deliveries = backlogs.map((r) => r.deliveriesPerSecond / emptyOf(r).deliveriesPerSecond);
  const sends = backlogs.map((r) => r.sendsPerSecond / emptyOf(r).sendsPerSecond);
  const list = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' · ');
  const met = Math.min(...deliveries) >= 0.9;
  console.log(
    `\nbacklog ÷ empty, ${store}: deliveries/s ${list(deliveries)}, sends/s ${list(sends)} — ` +
      `goal (deliveries ≥ 0.9×) ${met ? 'met' : 'NOT met'} in ${deliveries.filter((x) => x >= 0.9).length} of ${deliveries.length} round(s)`,
  );
}

runMain(main);
