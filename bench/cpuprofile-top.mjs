// Summarises a V8 .cpuprofile (e.g. from BENCH_SERVICE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"):
// the functions with the most self time, or with `--inclusive` the most time including callees.
//   node bench/cpuprofile-top.mjs /tmp/prof/CPU.….cpuprofile [--top 40] [--inclusive]
// Compare two builds by running it on a profile of each (same benchmark, same options).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '40' }, inclusive: { type: 'boolean', default: false } },
});
if (positionals.length !== 1) {
  console.error('usage: node bench/cpuprofile-top.mjs <file.cpuprofile> [--top 40] [--inclusive]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(positionals[0], 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const name = (n) => {
  const f = n.callFrame;
  return `${f.functionName || '(anonymous)'} ${f.url.replace(/.*\/(dist|src|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
};

const timeOf = new Map(); // node id → microseconds sampled in it
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  timeOf.set(id, (timeOf.get(id) ?? 0) + dt);
  total += dt;
});
const self = new Map();
const inclusive = new Map();
for (const [id, t] of timeOf) {
  const own = name(byId.get(id));
  self.set(own, (self.get(own) ?? 0) + t);
  const seen = new Set(); // a recursive function counts once per sample
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const k = name(byId.get(cur));
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + t);
  }
}
const idle = [...self].filter(([k]) => k.startsWith('(idle)')).reduce((a, [, t]) => a + t, 0);
const busy = total - idle;
console.log(`sampled ${(total / 1e6).toFixed(2)} s, idle ${(idle / 1e6).toFixed(2)} s, busy ${(busy / 1e6).toFixed(2)} s`);
const rows = [...(values.inclusive ? inclusive : self)].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top));
for (const [k, t] of rows) console.log(`${(t / 1e3).toFixed(0).padStart(8)} ms ${((100 * t) / busy).toFixed(1).padStart(5)} %  ${k}`);
