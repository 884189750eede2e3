/**
 * `harepost dev` as a newcomer runs it: a child process in an empty folder prints keys and a
 * curl; running that curl (the real curl binary) delivers to the built-in sink, which shows it;
 * a second run reuses the same account. The curl and the dashboard link are for the same mode,
 * and the CLI commands it prints work pasted into another terminal in the same folder.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { request } from 'undici';
import { freePort } from '../support/free-port.js';
import { waitFor } from '../support/wait.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const run = promisify(execFile);

/** What a terminal of the newcomer's own has: no Harepost settings. */
const TERMINAL_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' };

describe('harepost dev', () => {
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** An empty folder of the newcomer's own. */
  const emptyFolder = () => {
    const dir = mkdtempSync(join(tmpdir(), 'harepost-dev-'));
    dirs.push(dir);
    return dir;
  };

  async function startDev(port: number, cwd: string): Promise<{ child: ChildProcess; output: () => string }> {
    // tsx is found from the project, not from the cwd
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(ROOT, 'src/cli/main.ts'), 'dev'], {
      cwd,
      env: { ...TERMINAL_ENV, HAREPOST_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    await waitFor(() => /accounts create.*\n/.test(out), { timeoutMs: 20_000, message: `dev did not print its commands:\n${out}` });
    return { child, output: () => out };
  }

  const stop = (child: ChildProcess) =>
    new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.kill('SIGTERM');
    });

  it('prints keys and a curl that delivers to its sink; a second run reuses the account', async () => {
    const dir = emptyFolder();
    const port = await freePort();
    const first = await startDev(port, dir);
    const text = first.output();
    const account = /account\s+(acct_\w+)/.exec(text)?.[1];
    const testKey = /test key\s+(hp_test_\w+)/.exec(text)?.[1];
    assert.ok(account && testKey, text);
    assert.match(text, /live key\s+hp_live_\w+/);
    assert.match(text, new RegExp(`API docs\\s+http://127\\.0\\.0\\.1:${port}/docs`));
    const curlLine = text.split('\n').find((l) => l.startsWith('curl -X POST'));
    assert.ok(curlLine, 'a ready-to-paste curl');
    assert.ok(curlLine.includes(testKey));

    const sent = await run('bash', ['-c', `${curlLine} -s`]);
    const accepted = JSON.parse(sent.stdout);
    assert.equal(accepted.status, 'queued');
    const arrived = await waitFor(
      async () => {
        const r = await run('curl', ['-s', `http://127.0.0.1:${port}/dev/sink`]);
        const list = JSON.parse(r.stdout).data as Array<{ body: string; headers: Record<string, string> }>;
        return list.find((x) => x.headers['x-harepost-queue-id'] === accepted.queue_id);
      },
      { message: 'the delivery never reached /dev/sink' },
    );
    assert.equal(arrived.body, '{"hello":"world"}');
    assert.ok(existsSync(join(dir, '.harepost', 'dev.db')), 'the embedded store lives under ./.harepost/');
    assert.equal(await stop(first.child), 0);

    const second = await startDev(port, dir);
    assert.match(second.output(), new RegExp(`account\\s+${account}`), 'the same dev account');
    assert.match(second.output(), /dev account reused/);
    const again = await run('bash', ['-c', `${curlLine} -s`]);
    assert.equal(JSON.parse(again.stdout).status, 'queued', 'the printed key still works');
    assert.equal(await stop(second.child), 0);
  });

  describe('what it prints works as printed', () => {
    const dir = emptyFolder();
    let port: number;
    let text: string;
    let base: string;
    let account: string;
    let dev: ChildProcess;
    let bin: string;

    /** A line it printed, run by bash in another "terminal": the same folder, no Harepost settings. */
    const paste = async (line: string) => {
      try {
        const r = await run('bash', ['-c', line], { cwd: dir, env: { ...TERMINAL_ENV, PATH: `${bin}:${TERMINAL_ENV.PATH}` } });
        return { code: 0, stdout: r.stdout, stderr: r.stderr };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    };
    const printed = (command: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`npx harepost ${command} `));
      assert.ok(line, `dev prints an "npx harepost ${command}" line:\n${text}`);
      return line;
    };

    /** The dashboard's sign-in button, as a browser on that page presses it: the session cookie. */
    const signIn = async (link: string) => {
      const token = new URL(link).searchParams.get('token')!;
      const opened = await request(link);
      assert.equal(opened.statusCode, 200);
      await opened.body.dump();
      const r = await request(`${base}/dashboard/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base },
        body: new URLSearchParams({ token }).toString(),
      });
      await r.body.dump();
      assert.equal(r.statusCode, 303, 'the link signs in');
      return /^harepost_session=([^;]+)/.exec(String(r.headers['set-cookie']))![0];
    };
    const get = async (path: string, headers: Record<string, string>) => {
      const r = await request(`${base}${path}`, { headers });
      return { status: r.statusCode, body: (await r.body.json()) as any };
    };

    it('starts in an empty folder (on a port other than the default)', async () => {
      // `npx harepost …` in the pasted lines: the project's CLI, as npx would run it from node_modules/.bin
      bin = join(dir, '.test-bin');
      mkdirSync(bin);
      writeFileSync(
        join(bin, 'npx'),
        `#!/bin/sh\n[ "$1" = harepost ] || { echo "test npx: only harepost" >&2; exit 127; }\nshift\nexec "${process.execPath}" --import "${import.meta.resolve('tsx')}" "${join(ROOT, 'src/cli/main.ts')}" "$@"\n`,
      );
      chmodSync(join(bin, 'npx'), 0o755);
      port = await freePort();
      const started = await startDev(port, dir);
      dev = started.child;
      text = started.output();
      base = `http://127.0.0.1:${port}`;
      account = /account\s+(acct_\w+)/.exec(text)![1]!;
    });

    it('the curl and the dashboard link are for the same mode, and it says which', async () => {
      assert.match(text, /both in test mode/);
      const curlLine = text.split('\n').find((l) => l.startsWith('curl -X POST'))!;
      const key = /Bearer (hp_(live|test)_\w+)/.exec(curlLine)!;
      assert.equal(key[2], 'test', 'the curl sends in test mode');
      const sent = JSON.parse((await run('bash', ['-c', `${curlLine} -s`])).stdout);
      assert.equal(sent.status, 'queued');

      const link = /dashboard\s+(http\S+)\s+\(test mode/.exec(text)?.[1];
      assert.ok(link, text);
      const cookie = await signIn(link);
      const session = await get('/dashboard/api/session', { cookie });
      assert.equal(session.body.mode, 'test', 'the dashboard link opens test mode');
      assert.equal(session.body.account_id, account);
      const listed = await get('/dashboard/api/v1/deliveries', { cookie });
      assert.ok(
        listed.body.data.some((d: { queue_id: string }) => d.queue_id === sent.queue_id),
        'the dashboard shows what the curl sent',
      );
    });

    it('the printed login-link command makes a link to this sandbox for its account', async () => {
      const line = printed('login-link');
      assert.ok(line.includes(`--account ${account}`) && line.includes('--mode test'), line);
      const r = await paste(line);
      assert.equal(r.code, 0, `${line}\n${r.stderr}`);
      const link = r.stdout.split('\n')[0]!;
      assert.ok(link.startsWith(`${base}/dashboard/login?token=`), `a link to this sandbox: ${r.stdout}`);
      const cookie = await signIn(link);
      const session = await get('/dashboard/api/session', { cookie });
      assert.equal(session.body.account_id, account);
      assert.equal(session.body.mode, 'test');
    });

    it('the printed keys command lists the dev account’s keys', async () => {
      const r = await paste(printed('keys list'));
      assert.equal(r.code, 0, r.stderr);
      const rows = r.stdout.trim().split('\n');
      assert.equal(rows.length, 2, r.stdout);
      const live = /live key\s+(hp_live_\w+)/.exec(text)![1]!;
      const test = /test key\s+(hp_test_\w+)/.exec(text)![1]!;
      for (const [mode, key] of [['live', live], ['test', test]] as const) {
        const row = rows.find((l) => l.split(/\s+/)[1] === mode);
        assert.ok(row, r.stdout);
        assert.ok(key.startsWith(row.split(/\s+/)[2]!.replace('…', '')), `${row} is the ${mode} key`);
      }
    });

    it('the printed accounts command makes an account this sandbox accepts', async () => {
      const r = await paste(printed('accounts create'));
      assert.equal(r.code, 0, r.stderr);
      const key = /live key (hp_live_\w+)/.exec(r.stdout)?.[1];
      assert.ok(key, r.stdout);
      const listed = await get('/v1/deliveries', { authorization: `Bearer ${key}` });
      assert.equal(listed.status, 200, 'the running sandbox knows the new account');
    });

    it('the commands the README shows beside it work too (acct_… being the dev account)', async () => {
      const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
      const start = readme.indexOf('\n## Try it locally in one command\n');
      assert.ok(start >= 0, 'the README has its "Try it locally in one command" section');
      const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
      const lines = [...section.matchAll(/```sh\n([\s\S]*?)```/g)]
        .flatMap((m) => m[1]!.split('\n'))
        .filter((l) => l.startsWith('npx harepost ') && l !== 'npx harepost dev');
      assert.deepEqual(
        lines.map((l) => l.split(' ').slice(2, 4).join(' ')),
        ['login-link --account', 'keys list', 'accounts create'],
        'the README shows the commands dev prints',
      );
      for (const line of lines) {
        const r = await paste(line.replaceAll('acct_…', account));
        assert.equal(r.code, 0, `${line}\n${r.stderr}`);
        if (line.includes('login-link')) {
          // the README's line has no --public-url: its link names the default port, and its token is the sandbox's
          const link = r.stdout.split('\n')[0]!;
          assert.ok(link.startsWith('http://127.0.0.1:8080/dashboard/login?token='), link);
          const cookie = await signIn(`${base}${new URL(link).pathname}${new URL(link).search}`);
          assert.equal((await get('/dashboard/api/session', { cookie })).body.account_id, account);
        }
      }
    });

    it('the same command without --database-url says where the dev account is', async () => {
      const r = await paste(`npx harepost login-link --account ${account}`);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`no account ${account}`));
      assert.match(r.stderr, /dev sandbox/);
      assert.match(r.stderr, /--database-url \.\/\.harepost\/dev\.db/);
      const keys = await paste(`npx harepost keys list --account ${account}`);
      assert.equal(keys.code, 1, 'keys list of an account that is not there fails too');
      assert.match(keys.stderr, /--database-url \.\/\.harepost\/dev\.db/);
    });

    it('an IP-literal target gets a 403 that says to use localhost, and that works', async () => {
      const key = /test key\s+(hp_test_\w+)/.exec(text)![1]!;
      for (const host of ['127.0.0.1', '[::1]']) {
        const target = `http://${host}:${port}/dev/sink?from=${encodeURIComponent(host)}`;
        const r = await request(`${base}/v1/send`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ target, body: { via: host } }),
        });
        const refused = (await r.body.json()) as { error: { code: string; message: string; field: string } };
        assert.equal(r.statusCode, 403, JSON.stringify(refused));
        assert.equal(refused.error.code, 'domain_not_verified');
        assert.equal(refused.error.field, 'target');
        assert.match(refused.error.message, /is an IP address/);
        assert.doesNotMatch(refused.error.message, /verify it/, 'never asks to verify an IP as a domain');
        const suggested = /send to (\S+) instead/.exec(refused.error.message)?.[1];
        assert.equal(suggested, `http://localhost:${port}/dev/sink?from=${encodeURIComponent(host)}`, refused.error.message);

        const retried = await request(`${base}/v1/send`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ target: suggested, body: { via: host } }),
        });
        const accepted = (await retried.body.json()) as { queue_id: string };
        assert.equal(retried.statusCode, 202, JSON.stringify(accepted));
        await waitFor(async () => {
          const sink = await get('/dev/sink', {});
          return sink.body.data.some((x: { headers: Record<string, string> }) => x.headers['x-harepost-queue-id'] === accepted.queue_id);
        }, { message: `the suggested ${suggested} was not delivered` });
      }
    });

    it('stops cleanly', async () => {
      assert.equal(await stop(dev), 0);
    });
  });
});
