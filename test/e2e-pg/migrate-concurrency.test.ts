/**
 * Migrations on PostgreSQL are safe when several processes start at once (issue 5): four
 * `harepost migrate` processes started together on a fresh schema all succeed and apply each
 * version once; three `harepost serve` processes started together on another fresh schema all
 * become ready, having applied the migrations once between them.
 *
 * Processes started "together" still reach the database milliseconds apart, which hides races
 * that a busy host exposes. The third test lines four migrators up deterministically: it holds
 * an EXCLUSIVE lock on pg_catalog.pg_namespace (which creating a schema must write to) until all
 * four are waiting on a lock, then lets them go at the same instant.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { request } from 'undici';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { freePort } from '../support/free-port.js';
import { dropSchema, freshSchemaUrl, postgresAvailable } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const CLI = ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')];
const VERSIONS = POSTGRES_MIGRATIONS.map((m) => m.version);

const base = await postgresAvailable();

interface Run {
  child: ChildProcess;
  output: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(args: string[], env: NodeJS.ProcessEnv): Run {
  const child = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => out, exit };
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_r, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: still running after ${ms} ms`)), ms);
    }),
  ]);
}

describe('migrations with many processes starting at once (PostgreSQL)', { skip: base === null ? 'PostgreSQL unreachable (not CI)' : false }, () => {
  let db: pg.Client;
  const schemas: string[] = [];
  const runs: Run[] = [];

  const baseEnv = (databaseUrl: string): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    HAREPOST_DATABASE_URL: databaseUrl,
    HAREPOST_LOG_LEVEL: 'warn',
  });

  async function migrations(schema: string): Promise<number[]> {
    const r = await db.query(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`);
    return r.rows.map((row: { version: number }) => row.version);
  }

  async function tables(schema: string): Promise<string[]> {
    const r = await db.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`, [schema]);
    return r.rows.map((row: { table_name: string }) => row.table_name);
  }

  before(async () => {
    db = new pg.Client({ connectionString: base!, connectionTimeoutMillis: 5000 });
    await db.connect();
  });

  after(async () => {
    for (const { child } of runs) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(runs.map((r) => within(r.exit, 5000, 'child exit').catch(() => undefined)));
    await db?.end().catch(() => undefined);
    for (const s of schemas) await dropSchema(s, base!).catch(() => undefined);
  });

  it('four `harepost migrate` processes started together all succeed and apply each version once', { timeout: 60_000 }, async () => {
    const { url, schema } = freshSchemaUrl(base!);
    schemas.push(schema);
    const env = baseEnv(url);
    const batch = Array.from({ length: 4 }, () => start(['migrate'], env));
    runs.push(...batch);
    const exits = await within(Promise.all(batch.map((r) => r.exit)), 45_000, 'harepost migrate');
    exits.forEach((e, i) =>
      assert.deepEqual(e, { code: 0, signal: null }, `migrate #${i + 1} failed:\n${batch[i]!.output()}`),
    );
    for (const r of batch) assert.match(r.output(), /migrations applied \(postgres\)/);

    assert.deepEqual(await migrations(schema), VERSIONS, 'each version recorded exactly once');
    const t = await tables(schema);
    for (const name of ['accounts', 'api_keys', 'deliveries', 'attempts', 'destinations', 'events', 'schema_migrations']) {
      assert.ok(t.includes(name), `table ${name} exists in ${schema} (${t.join(', ')})`);
    }

    // Running it again is a no-op.
    const again = start(['migrate'], env);
    runs.push(again);
    assert.deepEqual(await within(again.exit, 30_000, 'migrate again'), { code: 0, signal: null }, again.output());
    assert.deepEqual(await migrations(schema), VERSIONS);
  });

  it('four `harepost migrate` processes released at the same instant all succeed (schema creation raced)', { timeout: 60_000 }, async () => {
    const { url, schema } = freshSchemaUrl(base!);
    schemas.push(schema);
    const tag = `hp_migrace_${randomBytes(4).toString('hex')}`;
    const gate = new pg.Client({ connectionString: base!, connectionTimeoutMillis: 5000 });
    await gate.connect();
    let batch: Run[] = [];
    let lined = false;
    try {
      await gate.query('BEGIN');
      await gate.query('LOCK TABLE pg_catalog.pg_namespace IN EXCLUSIVE MODE');
      batch = Array.from({ length: 4 }, () => start(['migrate'], { ...baseEnv(url), PGAPPNAME: tag }));
      runs.push(...batch);
      // until every migrator waits on a lock (or 15 s, then they go however they stand)
      lined = await waitFor(
        async () => {
          if (batch.some((r) => r.child.exitCode !== null)) return 'exited' as const;
          const r = await db.query(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
            [tag],
          );
          return r.rows[0].n >= batch.length;
        },
        { timeoutMs: 15_000, intervalMs: 50 },
      ).then(
        (v) => v === true,
        () => false,
      );
    } finally {
      await gate.query('ROLLBACK').catch(() => undefined);
      await gate.end().catch(() => undefined);
    }
    const exits = await within(Promise.all(batch.map((r) => r.exit)), 45_000, 'harepost migrate');
    const failed = exits.flatMap((e, i) => (e.code === 0 ? [] : [`#${i + 1} exit ${e.code}: ${batch[i]!.output().trim()}`]));
    console.log(
      `migrate race: ${lined ? 'all 4 were waiting on a lock when released' : 'NOT all 4 were waiting on a lock when released'}; ` +
        `${exits.length - failed.length} of ${exits.length} exited 0${failed.length ? `\n  ${failed.join('\n  ')}` : ''}`,
    );
    assert.deepEqual(failed, [], 'every migrate process released at the same instant exits 0');
    assert.deepEqual(await migrations(schema), VERSIONS, 'each version recorded exactly once');
  });

  it('three `harepost serve` processes started together all become ready, migrations applied once', { timeout: 60_000 }, async () => {
    const { url, schema } = freshSchemaUrl(base!);
    schemas.push(schema);
    const ports = [await freePort(), await freePort(), await freePort()];
    const batch = ports.map((port) => start(['serve'], { ...baseEnv(url), HAREPOST_PORT: String(port) }));
    runs.push(...batch);

    await Promise.all(
      batch.map((r, i) =>
        waitFor(
          async () => {
            if (r.child.exitCode !== null) throw new Error(`serve #${i + 1} exited ${r.child.exitCode}:\n${r.output()}`);
            try {
              const res = await request(`http://127.0.0.1:${ports[i]}/readyz`);
              await res.body.dump();
              return res.statusCode === 200;
            } catch {
              return false;
            }
          },
          { timeoutMs: 30_000, intervalMs: 100, message: `serve #${i + 1} did not become ready` },
        ),
      ),
    );
    assert.deepEqual(await migrations(schema), VERSIONS, 'each version recorded exactly once');
    for (const [i, r] of batch.entries()) assert.equal(r.child.exitCode, null, `serve #${i + 1} still running:\n${r.output()}`);

    for (const r of batch) r.child.kill('SIGTERM');
    const exits = await within(Promise.all(batch.map((r) => r.exit)), 20_000, 'serve shutdown');
    exits.forEach((e, i) => assert.deepEqual(e, { code: 0, signal: null }, `serve #${i + 1} on SIGTERM:\n${batch[i]!.output()}`));
  });
});
