#!/usr/bin/env node
// Runs every test file under test/ with node:test (TypeScript through tsx), then the end-to-end
// suite a second time on PostgreSQL (127.0.0.1:5432, database test; HAREPOST_TEST_PG_URL to change).
// With CI=true an unreachable PostgreSQL fails the run; elsewhere that second pass is skipped loudly.
// With no filter it first runs `npm run lint` (tsc, the dashboard's tsc, ESLint): a lint failure fails
// the run, after the tests have still run.
// Usage: npm test [-- <substring filter on file paths>]
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import pg from 'pg';

const root = new URL('..', import.meta.url).pathname;
function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}
const filters = process.argv.slice(2);
const files = find(join(root, 'test'))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// Files whose end-to-end behaviour depends on the store run again on PostgreSQL.
const storeBound = files.filter((f) => f.startsWith('test/e2e/') && !/\/(cli|net-guarded-agent|dev-sandbox)\.test\.ts$/.test(f));

const concurrency = process.env.HAREPOST_TEST_CONCURRENCY ?? '2';
// A hang fails the run instead of holding it: each test (and suite) has 5 minutes (the slowest
// take ~25 s), a file's process exits once its tests are done even if it left a handle open, and
// each pass has 25 minutes in all (each takes ~4 today).
const TEST_TIMEOUT_MS = 300_000;
const PASS_TIMEOUT_MS = 25 * 60_000;
function run(label, list, env) {
  console.log(`\n=== ${label}: ${list.length} files ===`);
  const started = Date.now();
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, `--test-timeout=${TEST_TIMEOUT_MS}`, '--test-force-exit', ...list],
    { cwd: root, stdio: 'inherit', env: { ...process.env, ...env }, timeout: PASS_TIMEOUT_MS, killSignal: 'SIGKILL' },
  );
  const took = Math.round((Date.now() - started) / 1000);
  if (r.error?.code === 'ETIMEDOUT' || r.signal === 'SIGKILL') {
    console.error(`\n*** ${label}: stopped after ${took} s (the limit is ${PASS_TIMEOUT_MS / 60_000} min): a test hangs ***`);
    return 1;
  }
  console.log(`=== ${label}: finished in ${took} s, exit ${r.status} ===`);
  return r.status ?? 1;
}

async function postgresReachable() {
  const url = process.env.HAREPOST_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    return true;
  } catch (err) {
    console.warn(`PostgreSQL at ${url} is unreachable: ${err.message}`);
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

// The lint takes well under a minute (tsc twice, ESLint without type information); 10 min is a hang.
const LINT_TIMEOUT_MS = 10 * 60_000;
function lint() {
  console.log('\n=== lint: npm run lint (tsc, dashboard tsc, eslint) ===');
  const started = Date.now();
  const r = spawnSync('npm', ['run', '-s', 'lint'], { cwd: root, stdio: 'inherit', timeout: LINT_TIMEOUT_MS, killSignal: 'SIGKILL' });
  const took = Math.round((Date.now() - started) / 1000);
  const ok = r.status === 0;
  console.log(`=== lint: ${ok ? 'passed' : r.error ? `did not finish (${r.error.message})` : `FAILED, exit ${r.status ?? r.signal}`} in ${took} s ===`);
  return ok;
}
const lintOk = filters.length === 0 ? lint() : true;

let status = run('all tests (end-to-end on the embedded SQLite store)', files, { HAREPOST_TEST_STORE: 'sqlite' });
if (storeBound.length > 0) {
  if (await postgresReachable()) {
    status = run('end-to-end tests on PostgreSQL', storeBound, { HAREPOST_TEST_STORE: 'postgres' }) || status;
  } else if (process.env.CI === 'true') {
    console.error('CI=true: the PostgreSQL end-to-end pass cannot be skipped');
    status = 1;
  } else {
    console.warn('\n*** SKIPPED the PostgreSQL end-to-end pass (not CI, PostgreSQL unreachable) ***\n');
  }
}
if (!lintOk) {
  console.error('\n*** lint FAILED (see "=== lint" above): the run fails ***');
  status = 1;
}
process.exit(status);
