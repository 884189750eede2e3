/**
 * `harepost dev` as a newcomer runs it: a child process in an empty folder prints keys and a
 * curl; running that curl (the real curl binary) delivers to the built-in sink, which shows it;
 * a second run reuses the same account.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { freePort } from '../support/free-port.js';
import { waitFor } from '../support/wait.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const run = promisify(execFile);

describe('harepost dev', () => {
  const dir = mkdtempSync(join(tmpdir(), 'harepost-dev-'));
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  async function startDev(port: number): Promise<{ child: ChildProcess; output: () => string }> {
    // an empty folder of the newcomer's own: tsx is found from the project, not from the cwd
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(ROOT, 'src/cli/main.ts'), 'dev'], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, HAREPOST_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    await waitFor(() => out.includes('Then: curl'), { timeoutMs: 20_000, message: 'dev did not print its curl' });
    return { child, output: () => out };
  }

  const stop = (child: ChildProcess) =>
    new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.kill('SIGTERM');
    });

  it('prints keys and a curl that delivers to its sink; a second run reuses the account', async () => {
    const port = await freePort();
    const first = await startDev(port);
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

    const second = await startDev(port);
    assert.match(second.output(), new RegExp(`account\\s+${account}`), 'the same dev account');
    assert.match(second.output(), /dev account reused/);
    const again = await run('bash', ['-c', `${curlLine} -s`]);
    assert.equal(JSON.parse(again.stdout).status, 'queued', 'the printed key still works');
    assert.equal(await stop(second.child), 0);
  });
});
