/**
 * Finds what stalls a service's event loop: preloaded into `harepost serve` by
 *   BENCH_SERVICE_NODE_ARGS="--import ./bench/stall-trace.mjs" npm run soak -- --minutes 3
 * it times every better-sqlite3 statement (COMMITs included, so WAL checkpoints show up as slow
 * COMMITs), every fdatasync from call to callback (the WAL flushes before 202s), every garbage
 * collection, and the loop's lateness (a 10 ms timer), and prints to
 * stderr, every STALL_TRACE_INTERVAL_S seconds (60) and at exit, what took longer than
 * STALL_TRACE_MS (5): slow statements by SQL (count, total, max), pauses by GC kind, and how
 * many loop stalls there were and how long; and where the time in SQLite went (every statement
 * by SQL: count, total, max, mean). A measuring aid for bench/ only; nothing in src/
 * loads it.
 */
import fs from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { PerformanceObserver, constants } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const Database = require('better-sqlite3');
const THRESHOLD_MS = Number(process.env.STALL_TRACE_MS ?? 5);
const INTERVAL_S = Number(process.env.STALL_TRACE_INTERVAL_S ?? 60);

/** name → { n, total, max } for one reporting interval. */
let slowSql = new Map();
let gc = new Map();
let stalls = { n: 0, total: 0, max: 0, over50: 0 };
let sqlAll = { n: 0, total: 0 };
/** Every statement by SQL, whatever it took: what the time in SQLite goes to. */
let bySql = new Map();

const add = (map, key, ms) => {
  const e = map.get(key) ?? { n: 0, total: 0, max: 0 };
  e.n++;
  e.total += ms;
  e.max = Math.max(e.max, ms);
  map.set(key, e);
};

const probe = new Database(':memory:');
const Statement = Object.getPrototypeOf(probe.prepare('SELECT 1'));
probe.close();
for (const method of ['run', 'get', 'all']) {
  const original = Statement[method];
  Statement[method] = function timed(...args) {
    const t0 = performance.now();
    try {
      return original.apply(this, args);
    } finally {
      const ms = performance.now() - t0;
      sqlAll.n++;
      sqlAll.total += ms;
      const name = `${method} ${this.source.replace(/\s+/g, ' ').slice(0, 90)}`;
      add(bySql, name, ms);
      if (ms >= THRESHOLD_MS) add(slowSql, name, ms);
    }
  };
}

// fdatasync on the thread pool (the WAL flush before a 202): from the call to its callback
let flushes = { n: 0, total: 0, max: 0 };
const fdatasync = fs.fdatasync;
fs.fdatasync = function timedFdatasync(fd, callback) {
  const t0 = performance.now();
  return fdatasync.call(fs, fd, (...args) => {
    const ms = performance.now() - t0;
    flushes.n++;
    flushes.total += ms;
    flushes.max = Math.max(flushes.max, ms);
    callback(...args);
  });
};
syncBuiltinESMExports();

const GC_KINDS = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) add(gc, GC_KINDS[e.detail?.kind] ?? 'other', e.duration);
}).observe({ entryTypes: ['gc'] });

const TICK = 10;
let last = performance.now();
setInterval(() => {
  const now = performance.now();
  const late = now - last - TICK;
  last = now;
  if (late >= THRESHOLD_MS) {
    stalls.n++;
    stalls.total += late;
    stalls.max = Math.max(stalls.max, late);
    if (late >= 50) stalls.over50++;
  }
}, TICK).unref();

const fmt = (e) => `${String(e.n).padStart(6)} × total ${e.total.toFixed(0).padStart(6)} ms, max ${e.max.toFixed(1).padStart(6)} ms`;
function report(label) {
  const lines = [`[stall-trace ${label}] loop stalls ≥ ${THRESHOLD_MS} ms: ${stalls.n} (total ${stalls.total.toFixed(0)} ms, max ${stalls.max.toFixed(1)} ms, ≥ 50 ms: ${stalls.over50}); statements: ${sqlAll.n}, ${sqlAll.total.toFixed(0)} ms in all`];
  if (flushes.n > 0) lines.push(`  fdatasync (call → callback) ${fmt(flushes)}, mean ${(flushes.total / flushes.n).toFixed(3)} ms`);
  for (const [k, e] of [...gc].sort((a, b) => b[1].total - a[1].total)) lines.push(`  gc ${k.padEnd(12)} ${fmt(e)}`);
  for (const [k, e] of [...slowSql].sort((a, b) => b[1].total - a[1].total).slice(0, 8)) lines.push(`  slow sql ${fmt(e)}  ${k}`);
  for (const [k, e] of [...bySql].sort((a, b) => b[1].total - a[1].total).slice(0, 12)) {
    lines.push(`  all sql ${fmt(e)}, mean ${(e.total / e.n).toFixed(3)} ms  ${k}`);
  }
  process.stderr.write(lines.join('\n') + '\n');
  slowSql = new Map();
  flushes = { n: 0, total: 0, max: 0 };
  bySql = new Map();
  gc = new Map();
  stalls = { n: 0, total: 0, max: 0, over50: 0 };
  sqlAll = { n: 0, total: 0 };
}
let minute = 0;
setInterval(() => report(`${++minute * INTERVAL_S} s`), INTERVAL_S * 1000).unref();
process.once('exit', () => report('exit'));
