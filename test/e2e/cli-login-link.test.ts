/**
 * `harepost login-link` as a child process, on the store of this run (a SQLite file, or a
 * PostgreSQL schema): a one-time dashboard link on HAREPOST_PUBLIC_URL or the listen address,
 * that a service on the same database redeems once; an unknown account is a clear failure.
 * And `harepost dev` prints such a link for its dev account.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { request } from 'undici';
import { type Harepost, startHarepost } from '../../src/cli/compose.js';
import { loadConfig } from '../../src/config.js';
import { freePort } from '../support/free-port.js';
import { PROJECT_ROOT, type CliResult, runCli, showCli } from '../support/run-cli.js';
import { TEST_STORE, type TestDatabase, testDatabase } from '../support/test-database.js';
import { waitFor } from '../support/wait.js';

const LINK = /^(http:\/\/127\.0\.0\.1:(\d+))\/dashboard\/login\?token=([A-Za-z0-9_-]{43})$/;

describe('harepost login-link', () => {
  let dir: string;
  let db: TestDatabase;
  let env: Record<string, string>;
  let accountId: string;
  let hp: Harepost;
  const tokens: string[] = [];

  const cli = (args: string[], extra: Record<string, string> = {}) => runCli(args, { ...env, ...extra });

  /** Signs in with a login link on the running service, as its page's button does, without following the redirect. */
  const open = async (link: string) => {
    const token = new URL(link).searchParams.get('token') ?? '';
    const res = await request(`${hp.url}/dashboard/login`, {
      method: 'POST',
      headers: { origin: hp.url!, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }).toString(),
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text };
  };

  const firstLine = (r: CliResult) => {
    assert.equal(r.code, 0, showCli(r));
    return r.stdout.split('\n')[0]!;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'harepost-login-link-'));
    db = await testDatabase(dir);
    env = { HAREPOST_DATABASE_URL: db.url };
    const created = await cli(['accounts', 'create', '--name', 'Dash', '--json']);
    assert.equal(created.code, 0, showCli(created));
    accountId = JSON.parse(created.stdout).account_id;
    hp = await startHarepost(
      loadConfig({ HAREPOST_DATABASE_URL: db.url, HAREPOST_HOST: '127.0.0.1', HAREPOST_PORT: '0', HAREPOST_ROLE: 'api', HAREPOST_LOG_LEVEL: 'silent' }),
    );
  });

  after(async () => {
    await hp?.close();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints a link on http://HAREPOST_HOST:HAREPOST_PORT that signs in once, in live mode by default', async () => {
    const r = await cli(['login-link', '--account', accountId], { HAREPOST_PORT: '9911' });
    const link = firstLine(r);
    const m = LINK.exec(link);
    assert.ok(m, `not a login link: ${link}`);
    assert.equal(m[2], '9911');
    tokens.push(m[3]!);
    assert.match(r.stdout, /works once/);

    const first = await open(link);
    assert.equal(first.status, 303, first.text);
    assert.equal(first.headers.location, '/dashboard/');
    const cookie = /^(harepost_session=[^;]+);/.exec(String(first.headers['set-cookie']))?.[1];
    assert.ok(cookie);
    const session = await request(`${hp.url}/dashboard/api/session`, { headers: { cookie } });
    const body = (await session.body.json()) as { account_id: string; mode: string };
    assert.equal(session.statusCode, 200);
    assert.equal(body.account_id, accountId);
    assert.equal(body.mode, 'live');

    const second = await open(link);
    assert.equal(second.status, 401, 'a link works once');
  });

  it('--mode test --json: one JSON line, on HAREPOST_PUBLIC_URL; the session is in test mode', async () => {
    const r = await cli(['login-link', '--account', accountId, '--mode', 'test', '--json'], {
      HAREPOST_PUBLIC_URL: 'https://hooks.example.test/',
    });
    assert.equal(r.code, 0, showCli(r));
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, showCli(r));
    const out = JSON.parse(lines[0]!);
    assert.deepEqual(Object.keys(out).sort(), ['account_id', 'expires_at', 'mode', 'url']);
    assert.match(out.url, /^https:\/\/hooks\.example\.test\/dashboard\/login\?token=[A-Za-z0-9_-]{43}$/);
    assert.equal(out.mode, 'test');
    assert.equal(out.account_id, accountId);
    assert.ok(Math.abs(Date.parse(out.expires_at) - (Date.now() + 15 * 60_000)) < 60_000, out.expires_at);
    tokens.push(new URL(out.url).searchParams.get('token')!);

    const first = await open(out.url);
    assert.equal(first.status, 303);
    const cookie = /^(harepost_session=[^;]+);/.exec(String(first.headers['set-cookie']))![1]!;
    const session = await request(`${hp.url}/dashboard/api/session`, { headers: { cookie } });
    assert.equal(((await session.body.json()) as { mode: string }).mode, 'test');
  });

  it('an unknown account fails (exit 1) with a message naming it, and prints no link', async () => {
    const r = await cli(['login-link', '--account', 'acct_nosuchaccount']);
    assert.equal(r.code, 1, showCli(r));
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /no account acct_nosuchaccount/);
  });

  it('a bad --mode, a missing --account or a bad HAREPOST_PUBLIC_URL is a usage error (exit 2)', async () => {
    for (const [args, extra, pattern] of [
      [['login-link', '--account', accountId, '--mode', 'staging'], {}, /--mode/],
      [['login-link'], {}, /--account/],
      [['login-link', '--account', accountId], { HAREPOST_PUBLIC_URL: 'ftp://x.example.test' }, /HAREPOST_PUBLIC_URL/],
    ] as const) {
      const r = await cli([...args], extra);
      assert.equal(r.code, 2, showCli(r));
      assert.equal(r.stdout, '', showCli(r));
      assert.match(r.stderr, pattern);
    }
  });

  /** Everything the database holds, as text: the SQLite files' bytes, or every row of the schema's tables. */
  const storedText = async (): Promise<{ read: string[]; texts: Array<{ where: string; text: string }> }> => {
    if (TEST_STORE === 'sqlite') {
      const files = readdirSync(dir).filter((f) => f.startsWith('harepost.db'));
      return { read: files, texts: files.map((f) => ({ where: f, text: readFileSync(join(dir, f)).toString('latin1') })) };
    }
    const url = new URL(db.url);
    const schema = url.searchParams.get('schema')!;
    url.search = '';
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      const tables = await client.query<{ name: string }>(
        'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1',
        [schema],
      );
      const texts: Array<{ where: string; text: string }> = [];
      for (const { name } of tables.rows) {
        const rows = await client.query<{ row: string }>(`SELECT t::text AS row FROM "${schema}"."${name}" t`);
        texts.push(...rows.rows.map((r) => ({ where: name, text: r.row })));
      }
      return { read: tables.rows.map((t) => t.name), texts };
    } finally {
      await client.end();
    }
  };

  it('keeps no login token in plain text in the database', async () => {
    assert.ok(tokens.length >= 2);
    const { read, texts } = await storedText();
    assert.ok(read.some((w) => w === 'dashboard_login_tokens' || w === 'harepost.db'), `the token table was read: ${read.join(', ')}`);
    for (const { where, text } of texts) {
      for (const t of tokens) assert.equal(text.includes(t), false, `${where} holds a login token`);
    }
  });
});

// `harepost dev` always runs on its own SQLite file: it is tested once, in the SQLite pass.
if (TEST_STORE === 'sqlite') describe('harepost dev', () => {
  const dir = mkdtempSync(join(tmpdir(), 'harepost-dev-link-'));
  let child: ChildProcess | undefined;
  after(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints a dashboard sign-in link for its dev account, in the mode of the curl it prints (test)', async () => {
    const port = await freePort();
    child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(PROJECT_ROOT, 'src/cli/main.ts'), 'dev'], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, HAREPOST_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    await waitFor(() => out.includes('Then: curl'), { timeoutMs: 20_000, message: 'dev did not start' });
    const account = /account\s+(acct_\w+)/.exec(out)?.[1];
    const link = new RegExp(`dashboard\\s+(http://127\\.0\\.0\\.1:${port}/dashboard/login\\?token=[A-Za-z0-9_-]{43})\\s`).exec(out)?.[1];
    assert.ok(account && link, out);
    const opened = await request(link, { method: 'GET' });
    assert.match(await opened.body.text(), /action="\/dashboard\/login"/);
    assert.equal(opened.statusCode, 200);
    const res = await request(`http://127.0.0.1:${port}/dashboard/login`, {
      method: 'POST',
      headers: { origin: `http://127.0.0.1:${port}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: new URL(link).searchParams.get('token')! }).toString(),
    });
    await res.body.text();
    assert.equal(res.statusCode, 303);
    const cookie = /^(harepost_session=[^;]+);/.exec(String(res.headers['set-cookie']))![1]!;
    const session = await request(`http://127.0.0.1:${port}/dashboard/api/session`, { headers: { cookie } });
    const body = (await session.body.json()) as { account_id: string; mode: string };
    assert.equal(body.account_id, account);
    assert.equal(body.mode, 'test');
    const curlKey = /curl -X POST .*Bearer hp_(live|test)_/.exec(out)?.[1];
    assert.equal(curlKey, body.mode, 'the curl and the link are for the same mode');
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });
});
